import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { getDestinationType } from '@leadrelay/destinations';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { interpolateEnv } from './interpolate.js';
import { configSchema, type DestinationConfig, type ParsedConfig } from './schema.js';

/** A destination with every default filled in: what the worker and intake use. */
export type ResolvedDestination = DestinationConfig & {
  concurrency: number;
  rateLimit?: { max: number; per: number };
  retry: { attempts: number; initialDelay: number; maxDelay: number; maxThrottleWait: number };
};

export type LeadRelayConfig = Omit<ParsedConfig, 'destinations'> & {
  destinations: ResolvedDestination[];
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
  const interpolated = interpolateEnv(source, env);
  const sourceLines = new LineCounter();
  parseDocument(source, { lineCounter: sourceLines }); // only to turn source offsets into line:col
  const at = (outOffset: number) => {
    const pos = sourceLines.linePos(interpolated.toSourceOffset(outOffset));
    return { line: pos.line, col: pos.col };
  };
  const problems: ConfigProblem[] = interpolated.missing.map((m) => {
    const pos = sourceLines.linePos(m.offset);
    return { file, line: pos.line, col: pos.col, message: `environment variable ${m.name} is not set (set it, or write \${${m.name}:-default})` };
  });

  const doc = parseDocument(interpolated.text, { prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) problems.push({ file, ...at(e.pos[0]), message: e.message.split('\n')[0]! });
  if (doc.errors.length > 0) throw new ConfigError(problems);

  const result = configSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(locateIssue(issue, doc, file, at));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(sortProblems(problems));
  return { ...resolve(result.data), file };
}

function sortProblems(p: ConfigProblem[]): ConfigProblem[] {
  return [...p].sort((a, b) => a.line - b.line || a.col - b.col);
}

function pathText(path: PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
}

/** Points an issue at the deepest node of its path that exists in the file. */
function locateIssue(issue: z.core.$ZodIssue, doc: Document, file: string, at: (o: number) => { line: number; col: number }): ConfigProblem {
  let path = [...issue.path] as (string | number)[];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    message = `unknown key '${key}'${issue.keys.length > 1 ? ` (and ${issue.keys.slice(1).map((k) => `'${k}'`).join(', ')})` : ''}`;
    const pair = findKeyNode(doc, path, key);
    if (pair) return { file, ...at(pair), path: pathText(path), message };
  }
  if (issue.code === 'invalid_union' && path.at(-1) === 'type') message = `unknown destination type; expected one of ${Object.keys(getTypesForMessage()).join(', ')}`;
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      if (n < path.length && issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined) message = `'${String(path[n])}' is required`;
      return { file, ...at(node.range[0]), path: pathText(issue.path), message };
    }
    if (n === path.length - 1 && issue.code === 'invalid_type') message = `is required`;
  }
  return { file, line: 1, col: 1, path: pathText(issue.path), message };
}

function findKeyNode(doc: Document, path: (string | number)[], key: string): number | undefined {
  const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
  const items = (parent as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | null)?.items;
  const item = items?.find((i) => i.key?.value === key);
  return item?.key?.range?.[0];
}

function getTypesForMessage(): Record<string, unknown> {
  return Object.fromEntries(['dynamics', 'marketo', 'salesforce', 'azure-table', 'https'].map((t) => [t, getDestinationType(t)]));
}

function resolve(c: ParsedConfig): Omit<LeadRelayConfig, 'file'> {
  return {
    ...c,
    destinations: c.destinations.map((d) => {
      const def = getDestinationType(d.type)!;
      const rateLimit = d.rateLimit ?? (def.defaults.rateLimit ? { max: def.defaults.rateLimit.max, per: def.defaults.rateLimit.perMs } : undefined);
      return {
        ...d,
        concurrency: d.concurrency ?? def.defaults.concurrency,
        ...(rateLimit ? { rateLimit } : {}),
        retry: { ...c.retry, ...Object.fromEntries(Object.entries(d.retry ?? {}).filter(([, v]) => v !== undefined)) },
      } as ResolvedDestination;
    }),
  };
}
