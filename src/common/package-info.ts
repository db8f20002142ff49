import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface PackageInfo {
  name: string;
  version: string;
}

/** Reads the daemon's own package.json, found by walking up from this file (src/ or dist/). */
export function readPackageInfo(from = __dirname): PackageInfo {
  let dir = from;
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as Partial<PackageInfo>;
      return { name: pkg.name ?? 'exai-gateway', version: pkg.version ?? '0.0.0' };
    }
    const parent = dirname(dir);
    if (parent === dir) return { name: 'exai-gateway', version: '0.0.0' };
    dir = parent;
  }
}

export function humanDuration(ms: number): string {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', `${s}s`].filter(Boolean).join(' ');
}
