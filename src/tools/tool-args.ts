import type { LlmMessage } from '../providers/llm-provider';
import { InvalidArgumentsError } from './tools.errors';

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

/**
 * The old `messages` shapes: one string (a user message), an array of strings
 * (user messages), or `{role, content}` objects; assistant tool calls and tool
 * results pass through so a caller can continue its own function-calling loop.
 * @throws InvalidArgumentsError naming the bad entry.
 */
export function normalizeMessages(raw: unknown): LlmMessage[] {
  const list = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : undefined;
  if (!list) throw new InvalidArgumentsError('messages must be a string or an array', { field: 'messages' });
  const out: LlmMessage[] = [];
  list.forEach((entry, i) => {
    if (typeof entry === 'string') {
      if (entry.trim() !== '') out.push({ role: 'user', content: entry });
      return;
    }
    const m = entry as Record<string, unknown> | null;
    if (!m || typeof m !== 'object' || typeof m.role !== 'string' || !ROLES.has(m.role)) {
      throw new InvalidArgumentsError(
        `messages[${i}] must be a string or an object with role system, user, assistant or tool`,
        { field: `messages[${i}]` },
      );
    }
    const content = typeof m.content === 'string' ? m.content : m.content == null ? '' : JSON.stringify(m.content);
    const msg: LlmMessage = { role: m.role as LlmMessage['role'], content };
    if (typeof m.name === 'string') msg.name = m.name;
    if (typeof m.tool_call_id === 'string') msg.tool_call_id = m.tool_call_id;
    if (Array.isArray(m.tool_calls)) msg.tool_calls = m.tool_calls as LlmMessage['tool_calls'];
    if (content.trim() === '' && !msg.tool_calls) return;
    out.push(msg);
  });
  if (out.length === 0) {
    throw new InvalidArgumentsError('messages has no non-empty message', { field: 'messages' });
  }
  return out;
}

/**
 * The old `tools` shapes: an array or its JSON text; `"$name"` strings are
 * Kimi builtin functions, objects are sent as given once they look like a tool.
 * @throws InvalidArgumentsError naming the bad entry.
 */
export function normalizeTools(raw: unknown, builtins: boolean): Array<Record<string, unknown>> {
  if (raw === undefined || raw === null) return [];
  let list: unknown = raw;
  if (typeof raw === 'string') {
    try {
      list = JSON.parse(raw) as unknown;
    } catch {
      throw new InvalidArgumentsError('tools is a string but not valid JSON', { field: 'tools' });
    }
  }
  if (!Array.isArray(list))
    throw new InvalidArgumentsError('tools must be an array (or its JSON text)', { field: 'tools' });
  return list.map((tool, i) => {
    if (typeof tool === 'string') {
      if (builtins && /^\$[A-Za-z0-9_]+$/.test(tool)) {
        return { type: 'builtin_function', function: { name: tool } };
      }
      throw new InvalidArgumentsError(
        builtins
          ? `tools[${i}] "${tool}": a string names a builtin function and must look like "$web_search"`
          : `tools[${i}] must be a tool object`,
        { field: `tools[${i}]` },
      );
    }
    const t = tool as Record<string, unknown> | null;
    if (!t || typeof t !== 'object' || typeof t.type !== 'string') {
      throw new InvalidArgumentsError(`tools[${i}] must be an object with a type`, { field: `tools[${i}]` });
    }
    const fn = t.function as Record<string, unknown> | undefined;
    if ((t.type === 'function' || t.type === 'builtin_function') && typeof fn?.name !== 'string') {
      throw new InvalidArgumentsError(`tools[${i}].function.name is required`, { field: `tools[${i}]` });
    }
    return t;
  });
}
