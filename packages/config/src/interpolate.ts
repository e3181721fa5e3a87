/** One `${NAME}` / `${NAME:-default}` replacement: where it stood in the source and in the result. */
interface Splice {
  sourceStart: number;
  sourceEnd: number;
  outStart: number;
  outEnd: number;
}

export interface InterpolationResult {
  text: string;
  /** Unset variables without a default, with their source offset. */
  missing: { name: string; offset: number }[];
  /** Maps an offset in `text` back to the offset in the source text. */
  toSourceOffset(outOffset: number): number;
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` before YAML parsing (SPEC §2), keeping a map back to the
 * original offsets so errors point at the line and column a person wrote. `$${` escapes a literal `${`.
 */
export function interpolateEnv(source: string, env: Record<string, string | undefined>): InterpolationResult {
  const splices: Splice[] = [];
  const missing: InterpolationResult['missing'] = [];
  let out = '';
  let last = 0;
  for (const m of source.matchAll(VARIABLE)) {
    const start = m.index!;
    if (start > 0 && source[start - 1] === '$') continue; // escaped
    const [whole, name, fallback] = m;
    const value = env[name!];
    let replacement: string;
    if (value !== undefined && value !== '') replacement = value;
    else if (fallback !== undefined) replacement = fallback;
    else {
      missing.push({ name: name!, offset: start });
      replacement = '';
    }
    out += source.slice(last, start);
    splices.push({ sourceStart: start, sourceEnd: start + whole.length, outStart: out.length, outEnd: out.length + replacement.length });
    out += replacement;
    last = start + whole.length;
  }
  out += source.slice(last);
  out = out.replaceAll('$${', '${');
  return {
    text: out,
    missing,
    toSourceOffset(outOffset: number): number {
      let delta = 0;
      for (const s of splices) {
        if (outOffset < s.outStart) break;
        if (outOffset < s.outEnd) return s.sourceStart;
        delta = s.sourceEnd - s.outEnd;
      }
      return outOffset + delta;
    },
  };
}
