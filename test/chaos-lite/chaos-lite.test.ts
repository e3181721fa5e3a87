import { chaosScenario } from '../chaos/chaos-scenario.js';

/**
 * The chaos scenario of test/chaos reduced for `npm test`: the same faults (three worker SIGKILLs, a Redis
 * SIGKILL + restart from its AOF, a webhook outage, a burst of 429s) on 300 leads with a 10-second outage;
 * the zero-loss audit runs after each fault, while leads flow, and once drained.
 */
chaosScenario({
  title: 'chaos (reduced): 300 leads through crashes, a Redis restart and an outage',
  leads: 300, outageMs: 10_000, postRate: 20, drainTimeoutMs: 90_000, testTimeoutMs: 240_000,
});
