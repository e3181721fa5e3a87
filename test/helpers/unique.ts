import { randomBytes } from 'node:crypto';

/** A Redis prefix (or table name) no other test file uses, so files can share one Redis. */
export function uniquePrefix(label = 't'): string {
  return `${label}${randomBytes(4).toString('hex')}`;
}
