/**
 * A session id a client may choose (the hello's `session_id`, the OpenAI
 * API's session header): it keys limits, caches and logs, so it is short and
 * plain.
 */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
