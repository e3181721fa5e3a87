import { defineConfig } from 'vitest/config';
import type { TestSequencer, TestSpecification } from 'vitest/node';

/** Runs the benchmark files in name order (01-…, 02-…), one at a time: they must never load the machine together. */
class ByName implements TestSequencer {
  shard(files: TestSpecification[]): TestSpecification[] {
    return files;
  }

  sort(files: TestSpecification[]): TestSpecification[] {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}

/**
 * `npm run bench`: the benchmarks under bench/benchmarks. Not part of `npm test` (the root config only
 * includes *.test.ts under packages/, apps/ and test/). A missed target prints MISS but does not fail;
 * a crash or a lost lead fails the run.
 */
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['bench/benchmarks/**/*.bench-run.ts'],
    globalSetup: ['bench/lib/bench-global-setup.ts'],
    // Generous but finite: every benchmark also bounds its own waits.
    testTimeout: 240_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    sequence: { sequencer: ByName },
    // Figures are printed as they come, without vitest's per-test stdout headers.
    disableConsoleIntercept: true,
    reporters: ['default'],
  },
});
