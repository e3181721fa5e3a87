import fc from 'fast-check';
import { Entries, Raw, toJsonText } from './json-text.js';

/**
 * fast-check generators for intake bodies: valid leads in the three formats (README: Intake HTTP API), and hostile
 * variants of them (wrong types, huge or odd strings, prototype keys, duplicate keys, broken syntax…).
 */

export type LeadFormat = 'canonical' | 'marketplace' | 'form';

export const CUSTOMER_FIELDS = ['firstName', 'lastName', 'email', 'phone', 'country', 'company', 'title'] as const;
const MS_USER_FIELDS = ['FirstName', 'LastName', 'Email', 'Phone', 'Country', 'Company', 'Title'] as const;
const FORM_FIELDS = ['first_name', 'last_name', 'email', 'phone', 'country', 'company', 'title'] as const;

/** `arb`'s value in `percent`% of cases, else undefined (fc.option's `freq` is the odds of undefined, 1/freq). */
export function sometimes<T>(arb: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(undefined) }, { weight: percent, arbitrary: arb });
}

// ---------------------------------------------------------------- strings

const controlChar = fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c));
const oddChar = fc.constantFrom('\u0000', '\u007f', '\u0085', '\u00a0', '\u200b', '\u200e', '\u2028', '\u2029', '\ufeff', '\ufffd', '\uffff',
  '\ud800', '\udfff', '\ud83d\ude00', '"', '\\', '/', '<', '>', '&', '%', '+', '=', '|', '-', '\'', '`', '$', '{', '}', '\r\n');

/** Any text: ASCII, full unicode, combining marks and emoji, control characters, lone surrogates. */
export function anyText(maxLength = 40): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'grapheme-ascii', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme', maxLength: Math.max(1, Math.floor(maxLength / 4)) }),
    fc.string({ unit: fc.oneof(controlChar, oddChar, fc.constantFrom('a', ' ')), maxLength }),
  );
}

/** Text that is still there after `trim()` (required values such as source, action, offer). */
export function nonBlankText(maxLength = 40, without?: RegExp): fc.Arbitrary<string> {
  return anyText(maxLength).map((s) => (without ? s.replace(without, '_') : s)).filter((s) => s.trim() !== '');
}

/** Strings far beyond every field limit, single- and multi-byte. */
export const hugeString: fc.Arbitrary<string> = fc.tuple(fc.constantFrom('x', 'é', '💥', '\u0000', ' ', 'ab-|'), fc.integer({ min: 257, max: 6000 }))
  .map(([c, n]) => c.repeat(Math.ceil(n / c.length)));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: anyText(60) },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t\n', '\u0000', 'a\u0000b', '\ud800', 'MSFT_TEST_1', 'null', 'undefined', 'NaN', '0', '-1',
    '__proto__', 'constructor', 'toString', '{{customer.email}}', '${HOME}', '<script>alert(1)</script>', '%00', '../../etc/passwd') },
);

// ---------------------------------------------------------------- ids and lead sources

export const validId: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._-]{1,128}$/),
  fc.constantFrom('.', '..', '...', '-', '_', '0', '123456', 'MSFT_TEST_636573304831318844', 'x'.repeat(128), 'h' + '0'.repeat(32)),
);

export const invalidId: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('', ' ', 'a b', 'a/b', 'a:b', '../etc', 'x'.repeat(129), 'ü', 'a\nb', 'a\u0000b', '%2F', 'id?x=1', 'a#b', '*', 'lead{1}'),
  fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[A-Za-z0-9._-]{1,128}$/.test(s)),
  fc.integer(), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}), fc.constant(['abc']),
);

/** `Source-Action|Offer` missing a separator or a part. */
export const brokenLeadSource: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('AzureMarketplace', 'AzureMarketplace-INS', 'AzureMarketplace|offer', '-INS|offer', 'Azure-|offer', 'Azure-INS|', 'Azure-INS|   ',
    '|', '-', '-|', '|-', ' - | ', '', '   ', 'A|B-C'),
  anyText(30).map((s) => s.replace(/[|]/g, '')),
);

/** Well-formed `Source-Action|Offer` whose parts are longer than their own fields allow (source 128, action 64, offer 256). */
export const oversizedLeadSource: fc.Arbitrary<string> = fc.tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 500 }))
  .map(([s, a, o]) => `${'S'.repeat(s)}-${'A'.repeat(a)}|${'o'.repeat(o)}`.slice(0, 512))
  .filter((v) => /^S+-A+\|o+$/.test(v));

// ---------------------------------------------------------------- hostile values

/** Deep nesting as raw JSON (JSON.stringify itself would be fine; the parser and validators must be too). */
export const deepJson: fc.Arbitrary<Raw> = fc.tuple(fc.constantFrom('array', 'object', 'mixed'), fc.integer({ min: 20, max: 2500 })).map(([kind, depth]) => {
  if (kind === 'array') return new Raw('['.repeat(depth) + ']'.repeat(depth));
  if (kind === 'object') return new Raw('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
  return new Raw('[{"__x":'.repeat(depth) + 'null' + '}]'.repeat(depth));
});

export const enormousNumber: fc.Arbitrary<Raw> = fc.constantFrom('1e999', '-1e999', '1e-999', '-0', '123456789012345678901234567890', '9007199254740993',
  '0.000000000000000000000000000001', '1E308', '-1.7976931348623157e308', '5e-324', '1' + '0'.repeat(400), '0.' + '1'.repeat(500)).map((t) => new Raw(t));

/** Objects with keys JavaScript treats specially; JSON.parse makes them own properties. */
export const prototypeObject: fc.Arbitrary<Entries> = fc.constantFrom(
  new Entries([['__proto__', { polluted: true }]]),
  new Entries([['__proto__', null]]),
  new Entries([['__proto__', 'x']]),
  new Entries([['constructor', { prototype: { polluted: true } }]]),
  new Entries([['constructor', 'x']]),
  new Entries([['constructor', { name: 'x' }]]),
  new Entries([['prototype', { polluted: true }]]),
  new Entries([['toString', 'x'], ['valueOf', 1], ['hasOwnProperty', null]]),
  new Entries([['__defineGetter__', 'x'], ['__lookupGetter__', 'y']]),
);

/** Date-times at the edges of what the ISO-8601 check and Date take: year 0, ±23:59 offsets, day 31 in short months, leap seconds. */
export const edgyDateTime: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('0000-01-01T00:00:00Z', '0000-01-01T00:00:00+01:00', '0000-01-01T00:30:00+23:59', '9999-12-31T23:59:59-23:59', '9999-12-31T23:59:59.999Z',
    '2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2024-04-31T12:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T23:59:60Z', '2024-13-01T00:00:00Z',
    '2024-01-01T00:00:00+24:00', '2024-01-01T00:00:00-00:00', '2024-01-01T00:00:00.1234567890123Z', '2024-01-01', '2024-01-01T00:00:00', '+275760-09-13T00:00:00Z',
    '-000001-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '2024-01-01t00:00:00z', '2024-01-01 00:00:00Z', '２０２４-01-01T00:00:00Z'),
  fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 24 }),
    fc.integer({ min: 0, max: 60 }), fc.constantFrom('Z', '+23:59', '-23:59', '+00:00', '+14:00', '-12:00'))
    .map(([y, mo, d, h, mi, z]) => `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:00${z}`),
);

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: edgyDateTime },
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.bigInt().map((b) => new Raw(b.toString()))) },
  { weight: 2, arbitrary: fc.oneof(fc.array(anyText(10), { maxLength: 3 }), fc.constant([]), fc.constant({}), fc.dictionary(anyText(8), anyText(8), { maxKeys: 3 })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: enormousNumber },
  { weight: 1, arbitrary: prototypeObject },
  { weight: 1, arbitrary: invalidId },
  { weight: 1, arbitrary: brokenLeadSource },
  { weight: 1, arbitrary: oversizedLeadSource },
);

// ---------------------------------------------------------------- valid leads

/** An ISO-8601 date-time with `Z` or an offset, as `createdAt` takes it. */
export const isoDateTime: fc.Arbitrary<string> = fc.tuple(
  fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
  fc.constantFrom('Z', '+00:00', '+05:30', '-08:00', '+14:00'),
  fc.boolean(),
).map(([d, zone, millis]) => {
  const iso = d.toISOString();
  return (millis ? iso.slice(0, -1) : iso.slice(0, 19)) + zone;
});

/** Microsoft sends every value as a string (or leaves it out); a number or boolean there is refused. */
const microsoftValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: anyText(60) },
  // Over our limits: truncated with a warning, never refused.
  { weight: 1, arbitrary: hugeString.map((h) => h.slice(0, 400)) },
  { weight: 1, arbitrary: fc.constant(null) },
);

const customerValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: anyText(60) },
  // The canonical parser takes numbers and booleans where text goes (a phone as a number).
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()) },
  { weight: 1, arbitrary: fc.constant(null) },
);

const extraKey = fc.oneof(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/), fc.constantFrom('constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'))
  .filter((k) => k !== '__proto__');
const extraValue = fc.oneof(anyText(40), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));

/** Source without `-` or `|`, action without `|`, offer anything: `${source}-${action}|${offer}` parses back into them. */
const leadSourceParts = fc.record({
  source: nonBlankText(30, /[-|]/g),
  action: nonBlankText(20, /[|]/g),
  offer: nonBlankText(60),
});

export interface ValidLead {
  format: LeadFormat;
  /** The body as sent. */
  body: string;
  contentType: string;
  /** Query string (without `?`), e.g. `offer=` for Microsoft's JSON. */
  query: string;
}

const jsonContentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/vnd.contoso.lead+json');
const formContentType = fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=UTF-8', 'APPLICATION/X-WWW-FORM-URLENCODED');

/** A canonical lead as an object (members may be mutated before serialising). */
export const canonicalLead: fc.Arbitrary<Record<string, unknown>> = fc.record({
  naming: fc.oneof(
    leadSourceParts.map((p) => ({ source: p.source, action: p.action, offer: p.offer }) as Record<string, unknown>),
    leadSourceParts.map((p) => ({ leadSource: `${p.source}-${p.action}|${p.offer}` }) as Record<string, unknown>),
  ),
  id: fc.option(validId, { nil: undefined }),
  offerTitle: fc.option(anyText(80), { nil: undefined }),
  customer: fc.option(fc.record(Object.fromEntries(CUSTOMER_FIELDS.map((f) => [f, customerValue])), { requiredKeys: [] }), { nil: undefined }),
  description: fc.option(anyText(300), { nil: undefined }),
  createdAt: fc.option(isoDateTime, { nil: undefined }),
  extra: fc.option(fc.dictionary(extraKey, extraValue, { maxKeys: 6 }), { nil: undefined }),
}).map(({ naming, ...rest }) => {
  const lead: Record<string, unknown> = { ...naming };
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) lead[k] = v;
  return lead;
});

/** Microsoft's property names in one of the casings seen in the wild. */
const casing = fc.constantFrom<(name: string) => string>(
  (n) => n, (n) => n[0]!.toLowerCase() + n.slice(1), (n) => n.toLowerCase(), (n) => n.toUpperCase(),
);

export const marketplaceLead: fc.Arbitrary<{ body: Entries; query: string }> = fc.record({
  top: casing,
  user: casing,
  // Just the source (no `|`, so it is not read as Source-Action|Offer), or all three parts; or none at all
  // (a default and a warning). Over-long parts are truncated.
  leadSource: fc.option(fc.oneof(nonBlankText(40, /[|]/g), leadSourceParts.map((p) => `${p.source}-${p.action}|${p.offer}`), oversizedLeadSource), { nil: undefined, freq: 8 }),
  // Missing: defaulted from the lead source, or `unknown`, with a warning.
  actionCode: fc.option(fc.oneof(nonBlankText(20), hugeString.map((h) => h.slice(0, 100))), { nil: undefined, freq: 6 }),
  offerTitle: fc.option(anyText(80), { nil: undefined }),
  description: fc.option(anyText(300), { nil: undefined }),
  userDetails: fc.option(fc.record(Object.fromEntries(MS_USER_FIELDS.map((f) => [f, microsoftValue])), { requiredKeys: [] }), { nil: undefined }),
  offer: fc.option(nonBlankText(40), { nil: undefined }),
  // Microsoft adds properties over time; unknown ones are ignored (a `__proto__` key anywhere is refused: not generated here).
  unknown: fc.dictionary(fc.stringMatching(/^[A-Za-z]{1,12}$/).map((k) => `X${k}`), fc.jsonValue({ maxDepth: 2 }).filter((v) => !/"(__proto__|constructor)"/.test(JSON.stringify(v))), { maxKeys: 3 }),
}).map((m) => {
  const entries: [string, unknown][] = [];
  // UserDetails or ActionCode is what tells Microsoft's JSON from ours; Microsoft always sends UserDetails.
  const userDetails = m.userDetails ?? (m.actionCode === undefined ? {} : undefined);
  if (userDetails) entries.push([m.top('UserDetails'), Entries.of(Object.fromEntries(Object.entries(userDetails).map(([k, v]) => [m.user(k), v])))]);
  if (m.leadSource !== undefined) entries.push([m.top('LeadSource'), m.leadSource]);
  if (m.actionCode !== undefined) entries.push([m.top('ActionCode'), m.actionCode]);
  if (m.offerTitle !== undefined) entries.push([m.top('OfferTitle'), m.offerTitle]);
  if (m.description !== undefined) entries.push([m.top('Description'), m.description]);
  entries.push(...Object.entries(m.unknown));
  return { body: new Entries(entries), query: m.offer === undefined ? '' : new URLSearchParams({ offer: m.offer }).toString() };
});

export const formLead: fc.Arbitrary<[string, string][]> = fc.record({
  parts: leadSourceParts,
  customer: fc.record(Object.fromEntries(FORM_FIELDS.map((f) => [f, anyText(60)])), { requiredKeys: [] }),
  description: fc.option(anyText(300), { nil: undefined }),
  id: fc.option(validId, { nil: undefined }),
  // What Microsoft's form post also carries; Salesforce-only fields are ignored.
  salesforce: fc.boolean(),
}).chain((f) => {
  const pairs: [string, string][] = [['lead_source', `${f.parts.source}-${f.parts.action}|${f.parts.offer}`], ...Object.entries(f.customer) as [string, string][]];
  if (f.description !== undefined) pairs.push(['description', f.description]);
  if (f.id !== undefined) pairs.push(['id', f.id]);
  if (f.salesforce) pairs.push(['encoding', 'UTF-8'], ['oid', '00Do0000000ZHog'], ['encoding', 'UTF-8'], ['retURL', 'https://example.com/']);
  return fc.shuffledSubarray(pairs, { minLength: pairs.length, maxLength: pairs.length })
    // The first occurrence of a field counts; later repeats may be anything.
    .chain((shuffled) => fc.array(fc.tuple(fc.constantFrom(...shuffled.map(([k]) => k)), fc.oneof(anyText(60), hugeString.map((h) => h.slice(0, 300)))), { maxLength: 2 })
      .map((repeats) => [...shuffled, ...repeats]));
});

export function formText(pairs: readonly (readonly [string, string])[]): string {
  return new URLSearchParams(pairs as [string, string][]).toString();
}

/** A valid lead in any of the three formats, as it goes on the wire. */
export const validLead: fc.Arbitrary<ValidLead> = fc.oneof(
  fc.tuple(canonicalLead, jsonContentType).map(([lead, contentType]) => ({ format: 'canonical' as const, body: toJsonText(lead), contentType, query: '' })),
  fc.tuple(marketplaceLead, jsonContentType).map(([m, contentType]) => ({ format: 'marketplace' as const, body: toJsonText(m.body), contentType, query: m.query })),
  fc.tuple(formLead, formContentType).map(([pairs, contentType]) => ({ format: 'form' as const, body: formText(pairs), contentType, query: '' })),
);

// ---------------------------------------------------------------- mutations of near-valid leads

/** One change to an object tree given as Entries: set, delete or duplicate a member somewhere, or add a special key. */
type EntriesMutation = (e: Entries) => Entries;

function toEntries(v: unknown): Entries | undefined {
  if (v instanceof Entries) return v;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Raw)) return Entries.of(v as Record<string, unknown>);
  return undefined;
}

/** Applies `f` to the object at `path` (objects on the way are created when missing, non-objects replaced). */
function atObject(e: Entries, path: readonly string[], f: (o: Entries) => Entries): Entries {
  if (path.length === 0) return f(e);
  const [head, ...rest] = path as [string, ...string[]];
  const i = e.entries.findIndex(([k]) => k === head);
  const updated = atObject(toEntries(i >= 0 ? e.entries[i]![1] : undefined) ?? new Entries([]), rest, f);
  return i >= 0 ? new Entries(e.entries.map((m, j) => (j === i ? [head, updated] as const : m))) : new Entries([...e.entries, [head, updated]]);
}

/** Applies `f` to the member at `path` (its last element) within its parent object. */
function atPath(e: Entries, path: readonly string[], f: (parent: Entries, key: string) => Entries): Entries {
  return atObject(e, path.slice(0, -1), (parent) => f(parent, path.at(-1)!));
}

const setMember = (value: unknown) => (e: Entries, key: string) => {
  const i = e.entries.findIndex(([k]) => k === key);
  return i >= 0 ? new Entries(e.entries.map((m, j) => (j === i ? [key, value] as const : m))) : new Entries([...e.entries, [key, value]]);
};
const deleteMember = (e: Entries, key: string) => new Entries(e.entries.filter(([k]) => k !== key));
const duplicateMember = (value: unknown, before: boolean) => (e: Entries, key: string) =>
  new Entries(before ? [[key, value], ...e.entries] : [...e.entries, [key, value]]);

function mutationsFor(paths: fc.Arbitrary<string[]>): fc.Arbitrary<EntriesMutation> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.tuple(paths, hostileValue).map(([p, v]): EntriesMutation => (e) => atPath(e, p, setMember(v))) },
    { weight: 1, arbitrary: paths.map((p): EntriesMutation => (e) => atPath(e, p, deleteMember)) },
    { weight: 2, arbitrary: fc.tuple(paths, hostileValue, fc.boolean()).map(([p, v, b]): EntriesMutation => (e) => atPath(e, p, duplicateMember(v, b))) },
    // `__proto__`/`constructor` members in the object holding the member.
    { weight: 1, arbitrary: fc.tuple(paths, prototypeObject).map(([p, special]): EntriesMutation => (e) =>
      atObject(e, p.slice(0, -1), (o) => new Entries([...o.entries, ...special.entries]))) },
  );
}

const randomKey = fc.oneof(anyText(12), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '', ' ', 'ID', 'Source', 'leadsource', 'customer '));

const canonicalPaths: fc.Arbitrary<string[]> = fc.oneof(
  fc.constantFrom('id', 'source', 'action', 'offer', 'leadSource', 'offerTitle', 'customer', 'description', 'createdAt', 'extra').map((k) => [k]),
  fc.constantFrom(...CUSTOMER_FIELDS).map((k) => ['customer', k]),
  randomKey.map((k) => [k]),
  randomKey.map((k) => ['customer', k]),
  fc.oneof(extraKey, randomKey).map((k) => ['extra', k]),
);

const marketplacePaths: fc.Arbitrary<string[]> = fc.oneof(
  fc.tuple(casing, fc.constantFrom('UserDetails', 'LeadSource', 'ActionCode', 'OfferTitle', 'Description', 'OfferId', 'Offer', 'Id')).map(([c, k]) => [c(k)]),
  fc.tuple(casing, casing, fc.constantFrom(...MS_USER_FIELDS)).map(([c1, c2, k]) => [c1('UserDetails'), c2(k)]),
  randomKey.map((k) => [k]),
  fc.tuple(casing, randomKey).map(([c, k]) => [c('UserDetails'), k]),
);

/** Text-level damage after serialising: truncation, stray characters, wrappers, a BOM. */
const textMutation: fc.Arbitrary<(s: string) => string> = fc.oneof(
  fc.nat().map((n) => (s: string) => s.slice(0, n % Math.max(1, s.length))),
  fc.tuple(fc.nat(), fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', '\u0000', '\ufeff', ' ', 'NaN', 'undefined', '//', '/*', '\'')).map(([n, c]) => (s: string) => {
    const i = n % (s.length + 1);
    return s.slice(0, i) + c + s.slice(i);
  }),
  fc.constantFrom(
    (s: string) => `\ufeff${s}`, (s: string) => `${s},`, (s: string) => `${s}${s}`, (s: string) => `[${s}]`, (s: string) => `{"lead":${s}}`,
    (s: string) => s.replace(/"/g, '\''), (s: string) => s.replace(/,/g, ',,'), (s: string) => s.replace(/}$/, ',}'), (s: string) => `  \n\t${s}\n  `,
    (s: string) => JSON.stringify(s),
  ),
);

export interface HostileBody {
  label: string;
  format: LeadFormat | 'raw';
  body: string | Buffer;
}

function jsonHostile(format: 'canonical' | 'marketplace', base: fc.Arbitrary<Entries>, paths: fc.Arbitrary<string[]>): fc.Arbitrary<HostileBody> {
  return fc.tuple(base, fc.array(mutationsFor(paths), { minLength: 1, maxLength: 3 }), sometimes(textMutation, 20))
    .map(([lead, mutations, text]) => {
      const body = toJsonText(mutations.reduce((e, m) => m(e), lead));
      return { label: `${format}${text ? '+text' : ''}`, format, body: text ? text(body) : body };
    });
}

export const hostileCanonical = jsonHostile('canonical', canonicalLead.map((l) => Entries.of(l)), canonicalPaths);
export const hostileMarketplace = jsonHostile('marketplace', marketplaceLead.map((m) => m.body), marketplacePaths);

/** Percent-encoding that decodes to nothing valid, separators in odd places. */
const brokenEncoding = fc.constantFrom('%', '%%', '%zz', '%E0%A4', '%ED%A0%80', '%C0%AF', '%FF', '%00', '%0', '%u0041', '&&', '==', '=', ';', '+', '%2', '&=&', '%25', '%26', '%3D');

type Pair = [string, string];
type FormMutation = (pairs: Pair[]) => Pair[];

const formMutation: fc.Arbitrary<FormMutation> = fc.oneof(
  fc.tuple(fc.constantFrom(...FORM_FIELDS, 'lead_source', 'description', 'id'), hostileString).map(([k, v]): FormMutation => (pairs) => {
    const i = pairs.findIndex(([n]) => n === k);
    return i >= 0 ? pairs.map((p, j): Pair => (j === i ? [k, v] : p)) : [...pairs, [k, v]];
  }),
  fc.tuple(fc.constantFrom(...FORM_FIELDS, 'lead_source'), hostileString, fc.boolean()).map(([k, v, before]): FormMutation => (pairs) =>
    (before ? [[k, v], ...pairs] : [...pairs, [k, v]])),
  fc.constantFrom(...FORM_FIELDS, 'lead_source').map((k) => (pairs: [string, string][]) => pairs.filter(([n]) => n !== k)),
  fc.oneof(brokenLeadSource, oversizedLeadSource).map((v) => (pairs: [string, string][]) => [['lead_source', v] as [string, string], ...pairs.filter(([n]) => n !== 'lead_source')]),
  fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'lead_source[]', 'lead_source[0]', 'LEAD_SOURCE', 'Lead_Source', '', 'pop', 'push', 'length'), hostileString)
    .map(([k, v]) => (pairs: [string, string][]) => [[k, v] as [string, string], ...pairs]),
  fc.constantFrom(...FORM_FIELDS, 'lead_source').map((k) => (pairs: [string, string][]) => [...pairs, ...Array.from({ length: 50 }, (_, i) => [k, `repeat${i}`] as [string, string])]),
);

const formTextMutation: fc.Arbitrary<(s: string) => string> = fc.oneof(
  fc.tuple(fc.nat(), brokenEncoding).map(([n, c]) => (s: string) => {
    const i = n % (s.length + 1);
    return s.slice(0, i) + c + s.slice(i);
  }),
  fc.nat().map((n) => (s: string) => s.slice(0, n % Math.max(1, s.length))),
  fc.constantFrom((s: string) => s.replace(/&/g, ';'), (s: string) => s.replace(/=/g, ''), (s: string) => decodeURIComponent(s.replace(/%(?![0-9A-Fa-f]{2})/g, '%25')),
    (s: string) => `&&&${s}&&&`, (s: string) => s.replace(/%([0-9A-F]{2})/g, '%$1%'), (s: string) => `${s}&lead_source`, (s: string) => s.replace(/\+/g, '%20')),
);

export const hostileForm: fc.Arbitrary<HostileBody> = fc.tuple(formLead, fc.array(formMutation, { minLength: 0, maxLength: 3 }), sometimes(formTextMutation, 30))
  .map(([pairs, mutations, text]) => {
    const body = formText(mutations.reduce((p, m) => m(p), pairs));
    return { label: `form${text ? '+text' : ''}`, format: 'form' as const, body: text ? text(body) : body };
  });

/** Bodies that are not a lead at all: any JSON value, random text or bytes, deep nesting, an empty body. */
export const hostileRaw: fc.Arbitrary<HostileBody> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ label: 'json-value', format: 'raw' as const, body: toJsonText(v) })),
  fc.oneof(anyText(200), fc.string({ maxLength: 200 })).map((s) => ({ label: 'text', format: 'raw' as const, body: s })),
  fc.uint8Array({ maxLength: 600 }).map((b) => ({ label: 'bytes', format: 'raw' as const, body: Buffer.from(b) })),
  fc.oneof(deepJson, enormousNumber).map((r) => ({ label: 'deep-or-number', format: 'raw' as const, body: r.text })),
  prototypeObject.map((o) => ({ label: 'prototype', format: 'raw' as const, body: toJsonText(o) })),
  fc.constantFrom('', ' ', 'null', 'true', '0', '""', '[]', '{}', '{"UserDetails":null}', '{"ActionCode":[]}', '{"userDetails":"x","actionCode":1}',
    '{"leadSource":"A-B|C","__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '\u0000', '{"a":1}\u0000', '{"source":"A","source":"B","action":"C","offer":"D"}')
    .map((s) => ({ label: 'edge', format: 'raw' as const, body: s })),
);
