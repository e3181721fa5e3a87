import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const semver = createRequire(import.meta.url)('semver') as { satisfies(v: string, range: string): boolean; minVersion(range: string): { version: string } | null };
const root = join(import.meta.dirname, '..');

/**
 * `npm ci` warns EBADENGINE for any installed package whose `engines.node` the running Node does not meet. Every
 * package in the lockfile must accept the oldest Node that package.json's `engines` allows (and so every later one).
 */
describe('dependencies run on the oldest Node that engines allows', () => {
  it('every locked package accepts it (no EBADENGINE on npm ci)', () => {
    const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const oldest = semver.minVersion(engines)!.version;
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };
    const refusing = Object.entries(lock.packages)
      .filter(([, p]) => p.engines && !Array.isArray(p.engines) && p.engines.node && !semver.satisfies(oldest, p.engines.node))
      .map(([path, p]) => `${path.replace(/^.*node_modules\//, '')}@${p.version} needs node ${(p.engines as { node: string }).node}`);
    expect(refusing, `Node ${oldest} (engines ${engines})`).toEqual([]);
  });
});
