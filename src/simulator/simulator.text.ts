/** Splits text into word tokens that concatenate back to the original (whitespace rides on the preceding word). */
export function splitWords(text: string): string[] {
  return text.split(/(?<=\s)(?=\S)/).filter((w) => w.length > 0);
}

/** The crude tokenizer of docs/providers.md §6: about four characters per token. */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/** `n` deterministic words, so `[[sim:tokens=N]]` yields exactly N completion tokens. */
export function fillerWords(n: number): string {
  return Array.from({ length: n }, (_, i) => `tok${i + 1}`).join(' ');
}

/**
 * Deterministic, random-looking ids: a counter run through a 32-bit mixer.
 * Restarting the sequence (on `reset()`) replays the same ids.
 */
export class SimIdGenerator {
  private seq = 0;

  reset(): void {
    this.seq = 0;
  }

  hex(length: number): string {
    this.seq += 1;
    let out = '';
    for (let block = 0; out.length < length; block++) {
      out += mix32(this.seq * 0x9e3779b1 + block)
        .toString(16)
        .padStart(8, '0');
    }
    return out.slice(0, length);
  }

  /** GLM ids: `YYYYMMDDhhmmss` + 16 hex (docs/providers.md §2.5). */
  glmId(epochMs: number): string {
    const d = new Date(epochMs);
    const p = (n: number, w = 2): string => String(n).padStart(w, '0');
    const stamp = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
    return stamp + this.hex(16);
  }
}

function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
