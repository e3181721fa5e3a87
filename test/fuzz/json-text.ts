/**
 * A tiny JSON writer for hostile bodies: plain values serialise as JSON.stringify would, but `Raw`
 * text is written verbatim (numbers like `1e999`, broken syntax) and `Entries` keep key order,
 * duplicate keys and keys JS objects treat specially (`__proto__`).
 */
export class Raw {
  constructor(readonly text: string) {}
}

/** An object as an ordered list of members; a key may repeat. */
export class Entries {
  constructor(readonly entries: readonly (readonly [string, unknown])[]) {}

  static of(o: Record<string, unknown>): Entries {
    return new Entries(Object.entries(o));
  }
}

export function toJsonText(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Entries) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toJsonText(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(toJsonText).join(',')}]`;
  if (v !== null && typeof v === 'object') return toJsonText(Entries.of(v as Record<string, unknown>));
  // undefined and functions have no JSON form; NaN/Infinity become null as in JSON.stringify.
  return JSON.stringify(v) ?? 'null';
}
