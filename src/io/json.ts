/**
 * JSON helpers shared by the safetensors header and the checkpoint sidecar: a duplicate-key scan
 * (JSON.parse keeps the last duplicate silently; the safetensors spec forbids duplicates) and a
 * check that a value survives `JSON.stringify` → `JSON.parse` unchanged.
 */
/** A JSON value exactly as `JSON.parse` returns it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * First object key that occurs twice in the same object of `text`, or `undefined`.
 * `text` must already have been accepted by `JSON.parse`: this is a scan, not a validator.
 */
export function findDuplicateKey(text: string): string | undefined {
  // One frame per open container: objects track their keys and whether a key comes next.
  const stack: { keys: Set<string> | null; expectKey: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) stack.push({ keys: new Set(), expectKey: true });
    else if (c === 0x5b) stack.push({ keys: null, expectKey: false });
    else if (c === 0x7d || c === 0x5d) stack.pop();
    else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
  return undefined;
}

/** Plain object (`{}` or `Object.create(null)`), not an array, class instance or null. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Throws `fail(what)` unless `v` round-trips through JSON unchanged: null, booleans, finite numbers,
 * strings, arrays and plain objects, no cycles. `undefined` object fields are allowed (JSON drops
 * them, as an absent optional field should be); NaN/Infinity are not (JSON would write `null`).
 */
export function assertJson(v: unknown, path: string, fail: (what: string) => Error, ancestors: object[] = []): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw fail(`${path} must be a finite number (JSON has no ${v})`);
    return;
  }
  if (typeof v !== 'object') throw fail(`${path} must be JSON, got ${typeof v}`);
  if (ancestors.includes(v)) throw fail(`${path} refers to itself (a cycle cannot be written as JSON)`);
  const inner = [...ancestors, v];
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (v[i] === undefined) throw fail(`${path}[${i}] is undefined (JSON would write null)`);
      assertJson(v[i], `${path}[${i}]`, fail, inner);
    }
    return;
  }
  if (!isPlainObject(v)) throw fail(`${path} must be a plain object, got ${v.constructor?.name ?? 'an exotic object'}`);
  for (const [k, x] of Object.entries(v)) if (x !== undefined) assertJson(x, `${path}.${k}`, fail, inner);
}
