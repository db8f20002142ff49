export interface EnvLine {
  line: number;
  key: string;
  value: string;
}

/** docker --env-file rules: blank and `#` lines are skipped, the value is everything after the first `=`. */
export function parseEnvFile(text: string): EnvLine[] {
  return text.split(/\r?\n/).flatMap((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return [];
    const eq = raw.indexOf('=');
    // A bare `KEY` would make docker copy the host's value; the file must be self-contained.
    if (eq < 0) throw new Error(`.env.docker line ${i + 1} has no '=': ${raw}`);
    return [{ line: i + 1, key: raw.slice(0, eq), value: raw.slice(eq + 1) }];
  });
}
