import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { LlmProviderRegistry } from '../providers/llm-provider-registry.service';
import { ExaiTool } from './exai-tool.decorator';
import type { ExaiToolHandler, ExaiToolOptions, PrepareContext, PreparedCall } from './tool.types';
import { InvalidArgumentsError, InvalidToolDefinitionError, ToolNotFoundError } from './tools.errors';
import { nestsDeeperThan } from '../common/json-depth';

/**
 * Deepest nesting of objects/arrays accepted in call_tool arguments: no tool
 * schema needs more, and deeper values overflow the stack of every recursive
 * step after parsing (clone, validation, serialisation).
 */
export const MAX_ARGUMENT_DEPTH = 64;

export interface RegisteredTool {
  readonly name: string;
  readonly options: ExaiToolOptions;
  readonly handler: ExaiToolHandler;
  readonly validate: ValidateFunction;
}

export interface ToolListing {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

/** The tool's schema with its `model` property's description ending in the available models. */
function withModelChoices(schema: Record<string, unknown>, choices: string): Record<string, unknown> {
  const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
  const model = properties?.model;
  if (!model || typeof model !== 'object') return schema;
  const own = typeof model.description === 'string' ? `${model.description} ` : '';
  return { ...schema, properties: { ...properties, model: { ...model, description: `${own}Models: ${choices}` } } };
}

function isEmpty(args: Record<string, unknown>): boolean {
  for (const _ in args) return false;
  return true;
}

// The old shim appends a transport suffix to every tool name.
const NAME_SUFFIX = /[_-]EXAI[_-]WS$/;

@Injectable()
export class ToolRegistryService implements OnModuleInit {
  private readonly logger = new Logger(ToolRegistryService.name);
  private readonly tools = new Map<string, RegisteredTool>();
  private readonly ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, coerceTypes: false });

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly providers: LlmProviderRegistry,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders({ metadataKey: ExaiTool.KEY })) {
      const options = this.discovery.getMetadataByDecorator(ExaiTool, wrapper);
      const instance = wrapper.instance as Partial<ExaiToolHandler> | undefined;
      if (!options || !instance) continue;
      this.register(options, instance);
    }
    this.logger.log(`Registered ${this.tools.size} tools: ${[...this.tools.keys()].sort().join(', ')}`);
  }

  register(options: ExaiToolOptions, handler: Partial<ExaiToolHandler>): void {
    if (typeof handler.execute !== 'function') {
      throw new InvalidToolDefinitionError(options.name, 'it has no execute(args, ctx) method');
    }
    if (this.tools.has(options.name)) {
      throw new InvalidToolDefinitionError(options.name, 'a tool with that name is already registered');
    }
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(options.inputSchema);
    } catch (err) {
      throw new InvalidToolDefinitionError(options.name, `its inputSchema does not compile: ${(err as Error).message}`);
    }
    this.tools.set(options.name, { name: options.name, options, handler: handler as ExaiToolHandler, validate });
  }

  normalizeName(name: string): string {
    return name.replace(NAME_SUFFIX, '');
  }

  /** @throws ToolNotFoundError when no tool has the (normalised) name. */
  resolve(name: string): RegisteredTool {
    const tool = this.tools.get(this.normalizeName(name));
    if (!tool) throw new ToolNotFoundError(name);
    return tool;
  }

  /**
   * Validates (and fills schema defaults into) a copy of the arguments.
   * @throws InvalidArgumentsError listing every failing path.
   */
  validateArguments(tool: RegisteredTool, args: Record<string, unknown>): Record<string, unknown> {
    if (nestsDeeperThan(args, MAX_ARGUMENT_DEPTH)) {
      throw new InvalidArgumentsError(
        `Invalid arguments for ${tool.name}: nested deeper than ${MAX_ARGUMENT_DEPTH} levels`,
        [{ path: '/', message: `must not nest objects or arrays deeper than ${MAX_ARGUMENT_DEPTH} levels` }],
      );
    }
    // An empty object (most calls of argument-free tools) needs no deep copy, and structuredClone is costly.
    const copy = isEmpty(args) ? {} : structuredClone(args);
    if (tool.validate(copy)) return copy;
    const details = (tool.validate.errors ?? []).map((e: ErrorObject) => ({
      path: e.instancePath === '' ? '/' : e.instancePath,
      message: this.describe(e),
    }));
    const summary = details.map((d) => `${d.path} ${d.message}`).join('; ');
    throw new InvalidArgumentsError(`Invalid arguments for ${tool.name}: ${summary}`, details);
  }

  /** Lets the tool resolve model, provider and deadline; tools without `prepare` run as called. */
  async prepare(tool: RegisteredTool, args: Record<string, unknown>, ctx: PrepareContext): Promise<PreparedCall> {
    return tool.handler.prepare ? tool.handler.prepare(args, ctx) : { args };
  }

  /**
   * The tools as `list_tools` shows them. Every `model` property is described
   * here, from the providers' live catalogue, so each tool (an extension's too)
   * lists the models a caller may name without repeating the catalogue.
   */
  list(): ToolListing[] {
    const models = this.modelChoices();
    return [...this.tools.values()].map((t) => ({
      name: t.name,
      description: t.options.description,
      inputSchema: withModelChoices(t.options.inputSchema, models),
    }));
  }

  private modelChoices(): string {
    const entries = this.providers.catalogue();
    const ids = entries.map((e) => e.model.id);
    const aliases = entries.flatMap((e) => (e.model.aliases ?? []).map((a) => `${a} → ${e.model.id}`));
    return (
      `"auto" (the gateway picks) or one of: ${ids.join(', ')}.` +
      (aliases.length > 0 ? ` Aliases: ${aliases.join(', ')}.` : '') +
      ' Names match case-insensitively.'
    );
  }

  get size(): number {
    return this.tools.size;
  }

  private describe(e: ErrorObject): string {
    if (e.keyword === 'additionalProperties') {
      return `must not have property "${String((e.params as { additionalProperty: string }).additionalProperty)}"`;
    }
    if (e.keyword === 'enum') {
      // A host model corrects itself only if it is told what it may send.
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v));
      return `must be one of ${allowed.join(', ')}`;
    }
    if (e.keyword === 'required') {
      return `must have property "${String((e.params as { missingProperty: string }).missingProperty)}"`;
    }
    return e.message ?? e.keyword;
  }
}
