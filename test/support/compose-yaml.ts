/**
 * A strict reader for the YAML that docker-compose.yml is written in: block
 * mappings, block sequences of scalars, JSON flow sequences, plain and quoted
 * scalars, and comments. Anything else (anchors, aliases, tags, block
 * scalars, flow mappings, tabs, duplicate keys) is an error naming the line,
 * so the compose file stays in the subset this check understands.
 * No YAML library is a dependency of this repo, and `docker compose config`
 * needs an engine that CI does not have.
 */
export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  no: number;
  indent: number;
  text: string;
}

export function parseComposeYaml(source: string): YamlValue {
  const lines: Line[] = [];
  source.split(/\r?\n/).forEach((raw, i) => {
    if (/^\s*\t/.test(raw)) throw new YamlSubsetError(i + 1, 'tab in indentation');
    const text = stripComment(raw, i + 1).trimEnd();
    if (text.trim() === '') return;
    if (text.trim() === '---' || text.trim() === '...') throw new YamlSubsetError(i + 1, 'document markers');
    lines.push({ no: i + 1, indent: text.length - text.trimStart().length, text: text.trim() });
  });
  if (lines.length === 0) return null;
  const [value, next] = parseBlock(lines, 0, lines[0].indent);
  if (next < lines.length) throw new YamlSubsetError(lines[next].no, 'unexpected indentation');
  return value;
}

export class YamlSubsetError extends Error {
  constructor(line: number, what: string) {
    super(`docker-compose.yml line ${line}: ${what} (outside the YAML subset test/support/compose-yaml.ts reads)`);
  }
}

/** A block at exactly `indent`: a sequence when its first line starts with "- ", else a mapping. */
function parseBlock(lines: Line[], start: number, indent: number): [YamlValue, number] {
  const isSequence = lines[start].text === '-' || lines[start].text.startsWith('- ');
  const seq: YamlValue[] = [];
  const map: Record<string, YamlValue> = {};
  let i = start;
  while (i < lines.length && lines[i].indent >= indent) {
    const line = lines[i];
    if (line.indent > indent) throw new YamlSubsetError(line.no, 'unexpected indentation');
    if (isSequence) {
      if (!line.text.startsWith('- ')) throw new YamlSubsetError(line.no, 'a mapping entry inside a sequence');
      const item = line.text.slice(2).trim();
      if (keyValue(item) !== undefined) throw new YamlSubsetError(line.no, 'a mapping as a sequence item');
      seq.push(scalarOrFlow(item, line.no));
      i++;
      continue;
    }
    const kv = keyValue(line.text);
    if (!kv)
      throw new YamlSubsetError(
        line.no,
        line.text.startsWith('- ') ? 'a sequence item in a mapping' : 'not a key: value',
      );
    const [key, rest] = kv;
    if (Object.prototype.hasOwnProperty.call(map, key)) throw new YamlSubsetError(line.no, `duplicate key "${key}"`);
    i++;
    if (rest !== '') {
      map[key] = scalarOrFlow(rest, line.no);
    } else if (i < lines.length && lines[i].indent > indent) {
      [map[key], i] = parseBlock(lines, i, lines[i].indent);
    } else if (i < lines.length && lines[i].indent === indent && lines[i].text.startsWith('- ')) {
      // Compose style allows a sequence at the same indentation as its key.
      [map[key], i] = parseBlock(lines, i, indent);
    } else {
      map[key] = null;
    }
  }
  return [isSequence ? seq : map, i];
}

/** `key: rest` or `key:`; undefined when the text is not a mapping entry. */
function keyValue(text: string): [string, string] | undefined {
  const quoted = /^"((?:[^"\\]|\\.)*)"\s*:(?:\s+(.*))?$/.exec(text);
  if (quoted) return [JSON.parse(`"${quoted[1]}"`) as string, quoted[2] ?? ''];
  const plain = /^([A-Za-z0-9_.\-/]+)\s*:(?:\s+(.*))?$/.exec(text);
  return plain ? [plain[1], plain[2] ?? ''] : undefined;
}

function scalarOrFlow(text: string, no: number): YamlValue {
  if (text.startsWith('[')) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (Array.isArray(parsed) && parsed.every((v) => typeof v !== 'object' || v === null)) {
        return parsed as YamlValue[];
      }
    } catch {
      // Reported below.
    }
    throw new YamlSubsetError(no, 'a flow sequence that is not a JSON array of scalars');
  }
  if (text.startsWith('"')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      throw new YamlSubsetError(no, 'a double-quoted string with YAML-only escapes');
    }
  }
  if (text.startsWith("'")) {
    if (!/^'(?:[^']|'')*'$/.test(text)) throw new YamlSubsetError(no, 'an unterminated single-quoted string');
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (/^[&*!|>%@`{]/.test(text))
    throw new YamlSubsetError(no, `"${text[0]}" (anchor, alias, tag, block scalar or flow mapping)`);
  if (/^-?\d+$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null' || text === '~') return null;
  // YAML 1.1 booleans a compose parser would read as true/false: not strings here.
  if (/^(yes|no|on|off|y|n)$/i.test(text)) throw new YamlSubsetError(no, `ambiguous scalar "${text}" (quote it)`);
  if (/:\s|\s#/.test(text)) throw new YamlSubsetError(no, `plain scalar "${text}" needs quotes`);
  return text;
}

/** Drops a `#` comment that is not inside quotes. */
function stripComment(raw: string, no: number): string {
  let quote: string | undefined;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s[,]/.test(raw[i - 1]))) {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(raw[i - 1]))) {
      return raw.slice(0, i);
    }
  }
  if (quote) throw new YamlSubsetError(no, 'an unterminated quoted string');
  return raw;
}
