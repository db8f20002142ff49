import { Injectable } from '@nestjs/common';
import { GlmLlmProvider } from '../../providers/glm/glm.llm-provider';
import { LlmProviderRegistry } from '../../providers/llm-provider-registry.service';
import { ProviderUnavailableError } from '../../providers/providers.errors';
import { ExaiTool } from '../exai-tool.decorator';
import { SCHEMA } from '../tool-schema';
import type { ExaiToolHandler, PreparedCall, ToolContext, ToolResult } from '../tool.types';
import { InvalidArgumentsError } from '../tools.errors';

const SEARCH_TIMEOUT_SECS = 60;

@ExaiTool({
  name: 'glm_web_search',
  description:
    "Searches the web with GLM's search API and returns the results as GLM sends them (title, link, content, media, publish date); no model writes an answer.",
  inputSchema: {
    type: 'object',
    properties: {
      search_query: { type: 'string', minLength: 1, description: 'What to search for.' },
      query: { type: 'string', minLength: 1, description: 'The same as search_query (the name newer clients use).' },
      count: { type: 'integer', minimum: 1, maximum: 50, default: 10, description: 'How many results, 1–50.' },
      search_engine: {
        type: 'string',
        default: 'search-prime',
        description: "GLM's search engine, e.g. search-prime (default), search_std, search_pro.",
      },
      search_domain_filter: {
        type: ['string', 'null'],
        description: 'Only results from this domain, e.g. "nodejs.org".',
      },
      search_recency_filter: {
        enum: ['oneDay', 'oneWeek', 'oneMonth', 'oneYear', 'noLimit', 'all'],
        default: 'noLimit',
        description: 'How recent results must be; noLimit (or all) for any age.',
      },
      request_id: { type: 'string', description: "Your own id for this search, echoed in GLM's response." },
      user_id: {
        type: 'string',
        minLength: 6,
        maxLength: 128,
        description: 'An end-user id GLM may use against abuse (6–128 characters).',
      },
      model: SCHEMA.ignoredModel,
    },
    anyOf: [{ required: ['search_query'] }, { required: ['query'] }],
    additionalProperties: false,
  },
  provider: 'GLM',
  timeoutSecs: SEARCH_TIMEOUT_SECS,
})
@Injectable()
export class GlmWebSearchTool implements ExaiToolHandler {
  constructor(private readonly providers: LlmProviderRegistry) {}

  prepare(args: Record<string, unknown>): PreparedCall {
    if (typeof args.search_query === 'string' && typeof args.query === 'string' && args.search_query !== args.query) {
      throw new InvalidArgumentsError('search_query and query are the same argument; give one', {
        field: 'query',
      });
    }
    return { args, provider: 'GLM', timeoutSecs: SEARCH_TIMEOUT_SECS };
  }

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const glm = this.providers.get('GLM');
    if (!(glm instanceof GlmLlmProvider) || !glm.status().configured) {
      throw new ProviderUnavailableError('GLM is not configured: glm_web_search needs GLM_API_KEY', {
        provider: 'GLM',
      });
    }
    const params: Record<string, unknown> = {
      search_query: args.search_query ?? args.query,
      search_engine: args.search_engine,
      count: args.count,
      search_recency_filter: args.search_recency_filter === 'all' ? 'noLimit' : args.search_recency_filter,
    };
    for (const key of ['search_domain_filter', 'request_id', 'user_id'] as const) {
      if (typeof args[key] === 'string') params[key] = args[key];
    }
    ctx.progress(`GLM web search: ${String(params.search_query)}`);
    const body = await glm.webSearch(params, { signal: ctx.signal, deadline: ctx.deadline });
    const results = Array.isArray(body.search_result) ? body.search_result.length : 0;
    return { content: JSON.stringify(body), contentType: 'json', metadata: { provider: 'GLM', results } };
  }
}
