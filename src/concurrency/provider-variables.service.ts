import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { ConfigValidationError } from '../config/validate-config';
import { LlmProviderRegistry } from '../providers/llm-provider-registry.service';
import { adaptiveConcurrencyConfig } from './adaptive/adaptive.config';
import { concurrencyConfig } from './concurrency.config';

/**
 * The per-provider variables (`EXAI_WS_<ID>_MAX_INFLIGHT`,
 * `EXAI_<ID>_CONCURRENCY`, `EXAI_<ID>_MIN_INFLIGHT`) are matched by pattern,
 * so a misspelt id parses as a provider nobody has: the limit the user meant
 * would silently not apply. Likewise an extension provider whose id no
 * variable can spell, or that reuses an id, would run without the limit its
 * team configured, or share another provider's. Which ids exist is known only
 * once every provider module is up, so this checks at bootstrap, and refuses
 * to start the way config validation does.
 */
@Injectable()
export class ProviderVariablesCheck implements OnApplicationBootstrap {
  constructor(
    @Inject(concurrencyConfig.KEY) private readonly concurrency: ConfigType<typeof concurrencyConfig>,
    @Inject(adaptiveConcurrencyConfig.KEY) private readonly adaptive: ConfigType<typeof adaptiveConcurrencyConfig>,
    private readonly registry: LlmProviderRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const providers = this.registry.all();
    const problems = [
      ...providerIdProblems(providers.map((p) => ({ id: p.id, name: p.constructor.name }))),
      ...unknownProviderVariables(
        providers.map((p) => p.id),
        {
          maxInflight: Object.keys(this.concurrency.limits.providers),
          modes: Object.keys(this.adaptive.modes),
          mins: Object.keys(this.adaptive.mins),
        },
      ),
    ];
    if (problems.length > 0) throw new ConfigValidationError(problems);
  }
}

/** Ids a limit variable names by another meaning: `EXAI_WS_GLOBAL_MAX_INFLIGHT` is the global limit. */
const RESERVED_IDS = new Set(['GLOBAL', 'SESSION']);

/**
 * A problem line for each provider id the per-provider variables cannot name
 * (they match upper-case letters and digits only, as environment variables
 * are written), each reserved one, and each id two providers share.
 */
export function providerIdProblems(providers: ReadonlyArray<{ id: string; name: string }>): string[] {
  const problems: string[] = [];
  const byId = new Map<string, string[]>();
  for (const { id, name } of providers) {
    byId.set(id, [...(byId.get(id) ?? []), name]);
    if (!/^[A-Z0-9]+$/.test(id))
      problems.push(
        `provider id ${JSON.stringify(id)} (${name}): an id is upper-case letters and digits, so that EXAI_WS_<ID>_MAX_INFLIGHT can name it`,
      );
    else if (RESERVED_IDS.has(id))
      problems.push(
        `provider id ${id} (${name}) is reserved: EXAI_WS_${id}_MAX_INFLIGHT is the ${id.toLowerCase()} limit`,
      );
  }
  for (const [id, names] of byId)
    if (names.length > 1)
      problems.push(`provider id ${id} is taken by ${names.sort().join(' and ')}: each provider needs its own`);
  return problems;
}

/** A problem line for each per-provider variable whose id is not a registered provider's. */
export function unknownProviderVariables(
  providerIds: readonly string[],
  named: { maxInflight: readonly string[]; modes: readonly string[]; mins: readonly string[] },
): string[] {
  const known = new Set(providerIds);
  const listed = providerIds.length > 0 ? providerIds.join(', ') : 'none';
  const variables = [
    ...named.maxInflight.map((id) => [id, `EXAI_WS_${id}_MAX_INFLIGHT`]),
    ...named.modes.map((id) => [id, `EXAI_${id}_CONCURRENCY`]),
    ...named.mins.map((id) => [id, `EXAI_${id}_MIN_INFLIGHT`]),
  ];
  return variables
    .filter(([id]) => !known.has(id))
    .map(([id, variable]) => `${variable}: no provider has the id ${id} (providers: ${listed})`);
}
