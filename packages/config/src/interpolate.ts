import { Parser } from 'yaml';

/** One `${NAME}`, `${NAME:-default}`, `$${` (a literal `${`) or malformed `${` in the source text. */
export interface EnvReference {
  kind: 'variable' | 'escape' | 'malformed';
  /** Offsets in the source text: `source.slice(start, end)` is the reference as written. */
  start: number;
  end: number;
  name?: string;
  /** The text after `:-`, when there is one (may be empty). */
  fallback?: string;
}

/** What one reference stands for once the environment is known. */
export interface EnvSubstitution {
  reference: EnvReference;
  /** The text it is replaced with: the variable's value, its default, `${` for an escape, or '' when missing. */
  value: string;
  /** Unset (or empty) variable without a default. */
  missing: boolean;
}

export interface InterpolationResult {
  /**
   * The source with every reference outside YAML comments replaced by a token (`__lrenv<n>__`) that
   * parses as plain text in any YAML context, so a value containing `#`, `,`, `: ` or quotes cannot
   * change the document's structure. `expand` swaps the tokens for their values after parsing.
   */
  text: string;
  substitutions: EnvSubstitution[];
  /** Unset variables without a default, at their source offset. */
  missing: { name: string; offset: number }[];
  /** `${` that is neither `${NAME}` nor `${NAME:-default}`, at its source offset. */
  malformed: { text: string; offset: number }[];
  /** Maps an offset in `text` back to the offset in the source; inside a token, the start of its reference. */
  toSourceOffset(offset: number): number;
  /** Replaces every token in a parsed string with its value. */
  expand(value: string): string;
  /** The substitution when `value` is exactly one token (a whole scalar written as `${...}`). */
  whole(value: string): EnvSubstitution | undefined;
  /** Replaces every token with the reference as written (`${NAME:-default}`): the file as an editor sees it. */
  raw(value: string): string;
}

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}\r\n]*))?\}|\$\{/g;
const TOKEN = /__lrenv(\d+)__/g;
const WHOLE_TOKEN = /^__lrenv(\d+)__$/;

/** Every reference in the text, including those inside comments. */
export function scanEnvReferences(source: string): EnvReference[] {
  const refs: EnvReference[] = [];
  for (const m of source.matchAll(REFERENCE)) {
    const start = m.index!;
    const end = start + m[0].length;
    if (m[0] === '$${') refs.push({ kind: 'escape', start, end });
    else if (m[1] !== undefined) refs.push({ kind: 'variable', start, end, name: m[1], ...(m[2] !== undefined ? { fallback: m[2] } : {}) });
    else refs.push({ kind: 'malformed', start, end });
  }
  return refs;
}

interface Splice {
  sourceStart: number;
  sourceEnd: number;
  outStart: number;
  outEnd: number;
}

function spliceTokens(source: string, refs: EnvReference[]): { text: string; splices: Splice[] } {
  const splices: Splice[] = [];
  let text = '';
  let last = 0;
  refs.forEach((r, i) => {
    text += source.slice(last, r.start);
    const token = `__lrenv${i}__`;
    splices.push({ sourceStart: r.start, sourceEnd: r.end, outStart: text.length, outEnd: text.length + token.length });
    text += token;
    last = r.end;
  });
  return { text: text + source.slice(last), splices };
}

function offsetMapper(splices: Splice[]): (offset: number) => number {
  return (offset) => {
    let delta = 0;
    for (const s of splices) {
      if (offset < s.outStart) break;
      if (offset < s.outEnd) return s.sourceStart;
      delta = s.sourceEnd - s.outEnd;
    }
    return offset + delta;
  };
}

/** Source ranges of YAML comments. Found on the tokenized text, so `${` cannot confuse the YAML lexer. */
function commentRanges(tokenized: string, toSource: (o: number) => number): [number, number][] {
  const ranges: [number, number][] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const t = node as { type?: string; offset?: number; source?: string };
    if (t.type === 'comment' && typeof t.offset === 'number' && typeof t.source === 'string') {
      ranges.push([toSource(t.offset), toSource(t.offset + t.source.length)]);
      return;
    }
    for (const v of Object.values(node)) if (v && typeof v === 'object') walk(v);
  };
  for (const token of new Parser().parse(tokenized)) walk(token);
  return ranges;
}

/**
 * Prepares `${NAME}` / `${NAME:-default}` substitution (docs/configuration.md) for a YAML text, keeping a map
 * back to the original offsets so errors point at the line and column a person wrote.
 * `$${` is a literal `${`. References inside comments are left alone. A variable set to the
 * empty string counts as unset, as in the shell's `:-`.
 */
export function interpolateEnv(source: string, env: Record<string, string | undefined>): InterpolationResult {
  const all = scanEnvReferences(source);
  const probe = spliceTokens(source, all);
  const comments = commentRanges(probe.text, offsetMapper(probe.splices));
  const refs = all.filter((r) => !comments.some(([s, e]) => r.start >= s && r.start < e));
  const { text, splices } = spliceTokens(source, refs);

  const missing: InterpolationResult['missing'] = [];
  const malformed: InterpolationResult['malformed'] = [];
  const substitutions = refs.map((reference): EnvSubstitution => {
    if (reference.kind === 'escape') return { reference, value: '${', missing: false };
    if (reference.kind === 'malformed') {
      malformed.push({ text: source.slice(reference.start, reference.start + 24).split(/\r?\n/)[0]!, offset: reference.start });
      return { reference, value: '${', missing: false };
    }
    const value = env[reference.name!];
    if (value !== undefined && value !== '') return { reference, value, missing: false };
    if (reference.fallback !== undefined) return { reference, value: reference.fallback, missing: false };
    missing.push({ name: reference.name!, offset: reference.start });
    return { reference, value: '', missing: true };
  });

  return {
    text,
    substitutions,
    missing,
    malformed,
    toSourceOffset: offsetMapper(splices),
    expand: (value) => value.replace(TOKEN, (t, i: string) => substitutions[Number(i)]?.value ?? t),
    raw: (value) => value.replace(TOKEN, (t, i: string) => {
      const r = substitutions[Number(i)]?.reference;
      return r ? source.slice(r.start, r.end) : t;
    }),
    whole: (value) => {
      const m = WHOLE_TOKEN.exec(value);
      return m ? substitutions[Number(m[1])] : undefined;
    },
  };
}
