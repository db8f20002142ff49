import type { LlmModelInfo } from './llm-provider';

/** One model as the gateway knows it: limits, capabilities and the other names clients use for it. */
export interface ModelSpec extends Required<Omit<LlmModelInfo, 'estimated'>> {
  readonly aliases: readonly string[];
  readonly estimated?: boolean;
}

/**
 * What a model unknown to the catalogue is assumed to do: the old daemon's
 * conservative generic entry (small window, no tools, no images).
 */
const GENERIC: Omit<ModelSpec, 'id'> = {
  contextWindow: 8_192,
  maxOutput: 2_048,
  thinking: false,
  vision: false,
  tools: false,
  aliases: [],
  estimated: true,
};

/**
 * The models one provider serves: the configured ids, each with its catalogue
 * entry (or the generic one), looked up case-insensitively by id or alias.
 */
export class ModelCatalogue {
  private readonly served: readonly ModelSpec[];
  private readonly byName = new Map<string, ModelSpec>();

  /**
   * @param known the provider's catalogue.
   * @param configured the ids to serve (GLM_MODELS / KIMI_MODELS); an alias names its canonical model.
   * @param thinkingByName decides thinking for ids the catalogue does not know.
   */
  constructor(known: readonly ModelSpec[], configured: readonly string[], thinkingByName: (id: string) => boolean) {
    const knownByName = new Map<string, ModelSpec>();
    for (const spec of known) for (const n of [spec.id, ...spec.aliases]) knownByName.set(n.toLowerCase(), spec);
    const served: ModelSpec[] = [];
    for (const name of configured) {
      const spec = knownByName.get(name.toLowerCase()) ?? { ...GENERIC, id: name, thinking: thinkingByName(name) };
      if (served.includes(spec) || served.some((s) => s.id === spec.id)) continue;
      served.push(spec);
      for (const n of [spec.id, ...spec.aliases]) this.byName.set(n.toLowerCase(), spec);
    }
    this.served = served;
  }

  /** The served model `name` means (id or alias, any case), or undefined. */
  resolve(name: string): ModelSpec | undefined {
    return this.byName.get(name.toLowerCase());
  }

  list(): readonly ModelSpec[] {
    return this.served;
  }

  ids(): string[] {
    return this.served.map((m) => m.id);
  }
}

/**
 * The configured list: plain ids replace the catalogue's defaults (restrict),
 * `+id` entries are added to them (extend).
 */
export function configuredModels(entries: readonly string[], defaults: readonly string[]): string[] {
  const additions = entries.filter((e) => e.startsWith('+')).map((e) => e.slice(1).trim());
  const exact = entries.filter((e) => !e.startsWith('+'));
  return [...(exact.length > 0 ? exact : defaults), ...additions].filter((e) => e !== '');
}

/** A catalogue row; capabilities default to off. */
export function modelSpec(
  id: string,
  contextWindow: number,
  maxOutput: number,
  caps: { thinking?: boolean; vision?: boolean; tools?: boolean },
  aliases: readonly string[] = [],
): ModelSpec {
  const { thinking = false, vision = false, tools = false } = caps;
  return { id, contextWindow, maxOutput, thinking, vision, tools, aliases };
}
