import { chaosScenario } from './chaos-scenario.js';

/**
 * The full chaos run (`npm run test:chaos`, several minutes): 2,000 leads, three worker SIGKILLs, a Redis
 * SIGKILL + restart from its AOF, a two-minute webhook outage and a burst of 429s at Dynamics.
 * `npm test` runs the same scenario reduced (test/chaos-lite).
 */
chaosScenario({
  title: 'chaos: 2,000 leads through crashes, a Redis restart and a two-minute outage',
  leads: 2000, outageMs: 120_000, postRate: 30, drainTimeoutMs: 300_000, testTimeoutMs: 900_000,
});
