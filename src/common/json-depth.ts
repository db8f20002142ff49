/**
 * Whether a parsed JSON value nests deeper than `limit` objects/arrays. It
 * walks with an explicit stack: JSON.parse accepts any depth, but every
 * recursive consumer after it (structuredClone, JSON.stringify, schema
 * validation) would throw "Maximum call stack size exceeded".
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
