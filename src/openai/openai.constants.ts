/** The `tool` label of the API's calls in exai_calls_total and the call log. */
export const OPENAI_CALL_TOOL = 'v1.chat.completions';

/** The routing rules see an API call as a `chat` call: `auto` picks the GLM speed model, or Kimi for long prompts. */
export const OPENAI_ROUTING_TOOL = 'chat';

/** Header naming the caller's session for the per-session limit. */
export const SESSION_HEADER = 'x-exai-session';

/** Owner shown for `auto` in `GET /v1/models`: the gateway itself chooses. */
export const AUTO_MODEL_OWNER = 'exai-gateway';
