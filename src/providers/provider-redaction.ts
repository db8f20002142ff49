/**
 * Provider error texts name the caller's account: Moonshot writes "Your
 * account org-7df2…<cak-fc91…> request reached organization max RPM", and an
 * auth error may quote part of a key. Those ids identify the paying account
 * and one of its keys; they are kept out of every stored, logged and
 * returned error. The rest of the message (the limit hit, the retry hint)
 * stays, because that is what the caller needs.
 */
const REDACTED = '[redacted]';

/** "Your account <id><key id>", the account phrase of Moonshot's errors. */
const ACCOUNT_PHRASE = /\b(your account\s+)[^\s<>]*(?:<[^<>\s]*>)?/gi;
/** Prefixed ids: organisations, access keys (ak-, cak-), secret keys (sk-), projects, users. */
const PREFIXED_ID = /\b(org|ak|cak|sk|proj|user|acct)-[A-Za-z0-9][A-Za-z0-9_.*…-]*/gi;
/** A bracketed id such as "<org-…>" or "<ak-…>" left over after the above, or any long token in brackets. */
const BRACKETED_ID = /<[A-Za-z0-9_.*…-]{12,}>/g;

/**
 * @param text an upstream error message
 * @param secrets values that must never appear (the configured API key)
 */
export function redactProviderIds(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join(REDACTED);
  return out
    .replace(ACCOUNT_PHRASE, `$1${REDACTED}`)
    .replace(PREFIXED_ID, `$1-${REDACTED}`)
    .replace(BRACKETED_ID, `<${REDACTED}>`);
}
