import type { z } from 'zod';

/** zod's own default messages start like this; messages written in our schemas are kept as they are. */
const DEFAULT_MESSAGE = /^(Invalid input|Invalid option|Too small|Too big|Invalid string|Invalid)\b/;

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping of keys to values',
  array: 'a list',
  record: 'a mapping of keys to values',
};

/** What a YAML value is, in words, for "must be X (got Y)". */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  return `${typeof value === 'number' ? 'the number' : 'the value'} ${String(value)}`;
}

const list = (values: readonly unknown[]) => values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');

/** A message a person can act on for one zod issue; `value` is what the file holds at the issue's path. */
export function issueMessage(issue: z.core.$ZodIssue, value: unknown): string {
  if (!DEFAULT_MESSAGE.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${TYPE_NAMES[issue.expected] ?? issue.expected} (got ${describeValue(value)})`;
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${list(issue.values)}` : `must be one of: ${list(issue.values)}`;
    case 'too_small': {
      const n = Number(issue.minimum);
      if (issue.origin === 'string') return `must be at least ${n} character${n === 1 ? '' : 's'}`;
      if (issue.origin === 'array' || issue.origin === 'set') return `needs at least ${n} item${n === 1 ? '' : 's'}`;
      return issue.inclusive === false ? `must be greater than ${n}` : `must be at least ${n}`;
    }
    case 'too_big': {
      const n = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${n} character${n === 1 ? '' : 's'}`;
      if (issue.origin === 'array' || issue.origin === 'set') return `takes at most ${n} item${n === 1 ? '' : 's'}`;
      return issue.inclusive === false ? `must be less than ${n}` : `must be at most ${n}`;
    }
    case 'invalid_union': {
      // A plain union (not by a discriminator key): say which kinds of value would do.
      const expected = issue.errors.map((branch) => (branch.length === 1 && branch[0]!.code === 'invalid_type' ? branch[0]!.expected : undefined));
      if (expected.length === 0 || expected.some((e) => e === undefined)) return 'is not any of the accepted forms of this value';
      const names = [...new Set(expected.map((e) => TYPE_NAMES[e!] ?? e!))];
      return `must be ${names.slice(0, -1).join(', ')}${names.length > 1 ? ' or ' : ''}${names.at(-1)} (got ${describeValue(value)})`;
    }
    case 'invalid_format':
      return issue.pattern ? `must match ${issue.pattern}` : `must be a valid ${issue.format}`;
    default:
      return issue.message;
  }
}
