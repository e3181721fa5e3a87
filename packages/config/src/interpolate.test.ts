import { describe, expect, it } from 'vitest';
import { interpolateEnv, scanEnvReferences } from './interpolate.js';

/** The text as the YAML parser will see its strings: tokens swapped for values. */
const expanded = (source: string, env: Record<string, string | undefined>) => {
  const r = interpolateEnv(source, env);
  return r.expand(r.text);
};

describe('scanEnvReferences', () => {
  it('finds variables, defaults, escapes and malformed references with their offsets', () => {
    const src = 'a: ${A} ${B:-x y} $${C} ${lower-case} ${D:-}';
    expect(scanEnvReferences(src)).toEqual([
      { kind: 'variable', start: 3, end: 7, name: 'A' },
      { kind: 'variable', start: 8, end: 17, name: 'B', fallback: 'x y' },
      { kind: 'escape', start: 18, end: 21 },
      { kind: 'malformed', start: 24, end: 26 },
      { kind: 'variable', start: 38, end: 44, name: 'D', fallback: '' },
    ]);
  });
});

describe('interpolateEnv', () => {
  it('replaces ${VAR} from the environment and ${VAR:-default} when unset or empty', () => {
    const src = 'a: ${A}\nb: ${B:-fallback}\nc: ${C:-fallback}\nd: ${D:-fallback}\n';
    expect(expanded(src, { A: 'one', C: 'set', D: '' })).toBe('a: one\nb: fallback\nc: set\nd: fallback\n');
  });

  it('treats $${ as a literal ${ and does not substitute after it', () => {
    expect(expanded('a: $${A} and ${A}', { A: 'x' })).toBe('a: ${A} and x');
  });

  it('reports an unset variable without a default, with its source offset, and substitutes nothing', () => {
    const src = 'x: 1\ny: ${MISSING}\nz: ${EMPTY}\n';
    const r = interpolateEnv(src, { EMPTY: '' });
    expect(r.missing).toEqual([
      { name: 'MISSING', offset: src.indexOf('${MISSING}') },
      { name: 'EMPTY', offset: src.indexOf('${EMPTY}') },
    ]);
    expect(r.expand(r.text)).toBe('x: 1\ny: \nz: \n');
  });

  it('leaves references inside YAML comments alone (a commented-out example needs no variables)', () => {
    const src = '# secret: ${NOT_SET}\na: ${A} # was ${OLD}\nb: "not # a comment ${A}"\nc: x#${A}\n';
    const r = interpolateEnv(src, { A: 'v' });
    expect(r.missing).toEqual([]);
    expect(r.expand(r.text)).toBe('# secret: ${NOT_SET}\na: v # was ${OLD}\nb: "not # a comment v"\nc: x#v\n');
  });

  it('reports a ${ that is not a valid reference', () => {
    const src = 'a: ${A:default}\nb: ${9X}\n';
    const r = interpolateEnv(src, { A: 'v' });
    expect(r.malformed.map((m) => m.offset)).toEqual([3, src.indexOf('${9X}')]);
  });

  it('keeps the document text free of values, so a value cannot change the YAML structure', () => {
    const r = interpolateEnv('keys: [${K}]\n', { K: 'a, b # c: d' });
    expect(r.text).toMatch(/^keys: \[__lrenv0__\]\n$/);
    expect(r.whole('__lrenv0__')?.value).toBe('a, b # c: d');
    expect(r.whole('x__lrenv0__')).toBeUndefined();
  });

  describe('offset map back to the source', () => {
    it('maps offsets after a longer or shorter replacement on an earlier line', () => {
      const src = 'a: ${A}\nb: ${LONG_VARIABLE_NAME:-x}\nc: here\n';
      const r = interpolateEnv(src, { A: 'a much longer value than the reference' });
      const out = r.expand(r.text);
      // The token text is what the YAML parser sees; its offsets map back exactly.
      expect(r.toSourceOffset(r.text.indexOf('here'))).toBe(src.indexOf('here'));
      expect(out).toContain('c: here');
    });

    it('maps offsets after replacements earlier on the same line', () => {
      const src = '{ a: ${A}, b: ${B:-default value}, c: target }';
      const r = interpolateEnv(src, { A: 'x' });
      expect(r.toSourceOffset(r.text.indexOf('target'))).toBe(src.indexOf('target'));
    });

    it('maps an offset inside a replaced reference to the start of the reference', () => {
      const src = 'a: ${A}';
      const r = interpolateEnv(src, { A: 'value' });
      const tokenAt = r.text.indexOf('__lrenv0__');
      expect(r.toSourceOffset(tokenAt)).toBe(3);
      expect(r.toSourceOffset(tokenAt + 5)).toBe(3);
    });

    it('accounts for escapes and comments', () => {
      const src = '# ${SKIPPED}\na: $${x} ${A} end';
      const r = interpolateEnv(src, { A: 'v' });
      expect(r.toSourceOffset(r.text.indexOf('end'))).toBe(src.indexOf('end'));
      expect(r.toSourceOffset(r.text.indexOf('# ${SKIPPED}'))).toBe(0);
    });
  });
});

describe('raw', () => {
  it('gives back each reference as written, for checking the file as an editor sees it', () => {
    const src = 'a: ${A:-x y} $${B} ${C}';
    const r = interpolateEnv(src, { A: 'v' });
    expect(r.raw(r.text)).toBe(src);
  });
});
