import { readFileSync } from 'node:fs';
import { isMap, isNode, isScalar, parse, parseDocument, visit, type Document, type Node, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { attemptsForHorizon } from '@leadrelay/core';
import { getDestinationType } from '@leadrelay/destinations';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { interpolateEnv, type InterpolationResult } from './interpolate.js';
import { describeValue, issueMessage } from './issue-message.js';
import { SourcePositions } from './source-positions.js';
import { configSchema, type DestinationConfig, type ParsedConfig, type SourceConfig } from './schema.js';
import { DEFAULT_POLL_EVERY } from './source-schema.js';

/** A destination with every default filled in: what the worker and intake use. */
export type ResolvedDestination = DestinationConfig & {
  concurrency: number;
  rateLimit?: { max: number; per: number };
  retry: { attempts: number; horizon: number; initialDelay: number; maxDelay: number; maxThrottleWait: number };
};

/** A source with every default filled in. */
export type ResolvedSource = SourceConfig & { pollEvery: number };
export type ResolvedReferralsSource = Extract<ResolvedSource, { type: 'referrals' }>;
export type ResolvedTableSource = Extract<ResolvedSource, { type: 'azure-table' }>;

export type LeadRelayConfig = Omit<ParsedConfig, 'destinations' | 'sources' | 'retry'> & {
  /** The global retry, with `attempts` derived from `horizon` when not set. */
  retry: ResolvedDestination['retry'];
  destinations: ResolvedDestination[];
  sources: ResolvedSource[];
  /** Where it was read from, for messages. */
  file: string;
};

export interface LoadConfigOptions {
  env?: Record<string, string | undefined>;
}

/** Default config path: `$LEADRELAY_CONFIG`, else `./leadrelay.yaml`. */
export function defaultConfigPath(env: Record<string, string | undefined> = process.env): string {
  return env.LEADRELAY_CONFIG || 'leadrelay.yaml';
}

export function loadConfig(file: string, options: LoadConfigOptions = {}): LeadRelayConfig {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file, line: 1, col: 1, message: `cannot read config: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  return parseConfig(source, file, options);
}

export function parseConfig(source: string, file = 'leadrelay.yaml', options: LoadConfigOptions = {}): LeadRelayConfig {
  const env = options.env ?? process.env;
  // Editors do not count a byte-order mark as a column.
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const positions = new SourcePositions(text);
  const interpolated = interpolateEnv(text, env);
  const at = (offset: number) => positions.at(interpolated.toSourceOffset(offset));

  const problems: ConfigProblem[] = [
    ...interpolated.missing.map((m) => ({
      file, ...positions.at(m.offset),
      message: `environment variable ${m.name} is not set (set it, or write \${${m.name}:-default})`,
    })),
    ...interpolated.malformed.map((m) => ({
      file, ...positions.at(m.offset),
      message: `'${m.text}' is not a variable reference: write \${NAME} or \${NAME:-default} (NAME: letters, digits, _), or $\${ for a literal \${`,
    })),
  ];

  const doc = parseDocument(interpolated.text, { prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) problems.push({ file, ...yamlErrorPosition(e, interpolated.text, at) });
  if (doc.errors.length > 0) throw new ConfigError(sortProblems(problems));
  substituteEnv(doc, interpolated);

  // Scalars whose value came from an unset variable: their own schema errors would only repeat "not set".
  const fromMissing = (node: Node) => isScalar(node) && node.range != null && interpolated.missing.some((m) => {
    const start = interpolated.toSourceOffset(node.range![0]);
    const end = interpolated.toSourceOffset(node.range![1]);
    return m.offset >= start && m.offset < Math.max(end, start + 1);
  });

  const result = configSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    const seen = new Set<string>();
    for (const issue of result.error.issues) {
      for (const located of locateIssue(issue, doc)) {
        // A path already reported (e.g. a wrong type) needs no second, derived message.
        const key = `${located.path}\0${located.key ?? ''}`;
        if (seen.has(key) || (located.node && fromMissing(located.node))) continue;
        seen.add(key);
        problems.push({ file, ...at(located.offset), path: located.path, message: located.message });
      }
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(sortProblems(problems));
  return { ...resolve(result.data), file };
}

/**
 * Where and what a YAML syntax error is. The parser reports an unclosed quote where the file ends;
 * a person looks for the quote that opened it.
 */
function yamlErrorPosition(e: YAMLError, text: string, at: (o: number) => { line: number; col: number }): { line: number; col: number; message: string } {
  const message = e.message.split('\n')[0]!;
  const quote = e.code === 'MISSING_CHAR' ? /closing (["'])quote/.exec(message)?.[1] : undefined;
  if (quote) {
    let i = text.lastIndexOf(quote, e.pos[0] - 1);
    // Skip quotes escaped inside the string: \" in double quotes, '' in single quotes.
    while (i > 0 && (quote === '"' ? text[i - 1] === '\\' : text[i - 1] === "'")) i = text.lastIndexOf(quote, i - (quote === '"' ? 1 : 2));
    if (i >= 0) return { ...at(i), message: `this ${quote === '"' ? 'double' : 'single'}-quoted string is never closed (missing ${quote})` };
  }
  if (e.code === 'DUPLICATE_KEY') {
    const key = /^("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^:\n]*?)\s*:(?:\s|$)/.exec(text.slice(e.pos[0]))?.[1];
    if (key) return { ...at(e.pos[0]), message: `duplicate key ${/^["']/.test(key) ? key : `'${key}'`} (a key may appear once per mapping)` };
  }
  return { ...at(e.pos[0]), message };
}

/** Plain scalars that look like these are typed by YAML (numbers, booleans, null); anything else stays a string. */
const YAML_TYPED = /^[-+.\w~]+$/;

/**
 * Puts environment values into the parsed document. A plain (unquoted) scalar is typed as YAML
 * would type the text (`port: ${PORT:-8080}` is a number); quoted scalars stay strings. A key
 * whose whole value is a variable that resolved to the empty string is dropped, so
 * `${SECRET:-}` leaves an optional key unset.
 */
function substituteEnv(doc: Document, interpolated: InterpolationResult): void {
  visit(doc, {
    Pair(_, pair) {
      const v = pair.value;
      if (!isScalar(v) || v.type !== 'PLAIN' || typeof v.value !== 'string') return undefined;
      const sub = interpolated.whole(v.value);
      return sub && sub.reference.kind === 'variable' && !sub.missing && sub.value === '' ? visit.REMOVE : undefined;
    },
    Scalar(_, node) {
      if (typeof node.value !== 'string' || !node.value.includes('__lrenv')) return;
      const expanded = interpolated.expand(node.value);
      node.value = node.type === 'PLAIN' && expanded !== '' && YAML_TYPED.test(expanded) ? parse(expanded) : expanded;
    },
  });
}

function sortProblems(p: ConfigProblem[]): ConfigProblem[] {
  return [...p].sort((a, b) => a.line - b.line || a.col - b.col);
}

function pathText(path: PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
}

interface LocatedIssue {
  offset: number;
  path: string;
  /** The reported key, for issues about one key of a mapping. */
  key?: string;
  node?: Node;
  message: string;
}

/** Points an issue at the deepest node of its path that exists in the file (one entry per unknown key). */
function locateIssue(issue: z.core.$ZodIssue, doc: Document): LocatedIssue[] {
  const path = issue.path as (string | number)[];
  if (issue.code === 'unrecognized_keys') {
    const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
    return issue.keys.map((key) => {
      const keyNode = isMap(parent) ? parent.items.find((i) => isScalar(i.key) && String(i.key.value) === key)?.key : undefined;
      const offset = (isNode(keyNode) && keyNode.range?.[0]) || nodeOffset(parent) || 0;
      return { offset, path: pathText(path), key, message: `unknown key '${key}'${suggestKey(key, path)}` };
    });
  }
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (!isNode(node) || !node.range) continue;
    const missingKey = n < path.length ? String(path[n]) : undefined;
    let message: string;
    if (issue.code === 'invalid_union' && issue.discriminator) {
      const values = ('options' in issue ? issue.options : undefined) ?? [];
      const options = values.length ? `: one of ${values.join(', ')}` : '';
      message = missingKey !== undefined
        ? `'${missingKey}' is required${options}`
        : `unknown ${issue.discriminator} ${isScalar(node) && typeof node.value === 'string' ? `'${node.value}'` : describeValue(isScalar(node) ? node.value : node.toJSON())}; expected one of ${values.join(', ')}`;
    } else if (missingKey !== undefined && n === path.length - 1 && issue.code === 'invalid_type') {
      message = `'${missingKey}' is required`;
    } else {
      message = issueMessage(issue, isScalar(node) ? node.value : node.toJSON());
    }
    return [{ offset: node.range[0], path: pathText(path), node, message }];
  }
  return [{ offset: 0, path: pathText(path), message: issueMessage(issue, undefined) }];
}

function nodeOffset(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}

/** "did you mean" for a misspelt key, from the keys the schema knows at that place. */
function suggestKey(key: string, path: (string | number)[]): string {
  const known = knownKeysAt(path);
  const close = known.filter((k) => k.toLowerCase() === key.toLowerCase() || editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
  return close.length > 0 ? ` (did you mean '${close[0]}'?)` : '';
}

function knownKeysAt(path: (string | number)[]): string[] {
  type Def = { type?: string; shape?: Record<string, unknown>; element?: unknown; options?: unknown[] };
  const defOf = (s: unknown) => (unwrap(s) as { _zod?: { def?: Def } })._zod?.def;
  let schema: unknown = configSchema;
  for (const k of path) {
    const def = defOf(schema);
    if (typeof k === 'number' && def?.type === 'array') schema = def.element;
    else if (typeof k === 'string' && def?.shape) schema = def.shape[k];
    // A destination: the key as any type has it (the same common keys in every type).
    else if (typeof k === 'string' && def?.options) schema = def.options.map((o) => defOf(o)?.shape?.[k]).find(Boolean);
    else return [];
  }
  const def = (unwrap(schema) as { _zod?: { def?: { shape?: Record<string, unknown>; options?: unknown[] } } })._zod?.def;
  if (def?.shape) return Object.keys(def.shape);
  // A destination: the keys of every type (its own type is not known here).
  if (def?.options) return [...new Set(def.options.flatMap((o) => Object.keys((unwrap(o) as { _zod: { def: { shape?: object } } })._zod.def.shape ?? {})))];
  return [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as { _zod?: { def?: { innerType?: unknown; in?: unknown; type?: string } } };
  while (s?._zod?.def && (s._zod.def.innerType || (s._zod.def.type === 'pipe' && s._zod.def.in))) s = (s._zod.def.innerType ?? s._zod.def.in) as typeof s;
  return s;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

/** Fills `attempts` from the horizon when neither the destination nor the global `retry` sets it. */
function resolveRetry(r: { attempts?: number; horizon: number; initialDelay: number; maxDelay: number; maxThrottleWait: number }): ResolvedDestination['retry'] {
  return { ...r, attempts: r.attempts ?? attemptsForHorizon(r.initialDelay, r.maxDelay, r.horizon) };
}

function resolve(c: ParsedConfig): Omit<LeadRelayConfig, 'file'> {
  return {
    ...c,
    retry: resolveRetry(c.retry),
    destinations: c.destinations.map((d) => {
      const def = getDestinationType(d.type)!;
      const rateLimit = d.rateLimit ?? (def.defaults.rateLimit ? { max: def.defaults.rateLimit.max, per: def.defaults.rateLimit.perMs } : undefined);
      return {
        ...d,
        concurrency: d.concurrency ?? def.defaults.concurrency,
        ...(rateLimit ? { rateLimit } : {}),
        retry: resolveRetry({ ...c.retry, ...Object.fromEntries(Object.entries(d.retry ?? {}).filter(([, v]) => v !== undefined)) }),
      } as ResolvedDestination;
    }),
    sources: c.sources.map((s) => ({ ...s, pollEvery: s.pollEvery ?? DEFAULT_POLL_EVERY[s.type] }) as ResolvedSource),
  };
}
