import { afterAll, describe, inject, it } from 'vitest';
import { readTlsCert } from '../helpers/tls-cert.js';
import { expectNothingLost, reportChaos } from './chaos-assertions.js';
import { ChaosRun } from './chaos-run.js';

const LEADS = 2000;

/**
 * The full chaos run (`npm run test:chaos`, several minutes): 2,000 leads, three worker SIGKILLs, a Redis
 * SIGKILL + restart from its AOF, a two-minute webhook outage and a burst of 429s at Dynamics.
 * `npm test` runs the same scenario reduced (test/chaos-lite).
 */
describe('chaos: 2,000 leads through crashes, a Redis restart and a two-minute outage', () => {
  let run: ChaosRun | undefined;
  afterAll(async () => run?.stop(), 60_000);

  it('delivers every accepted lead everywhere it matched, once per idempotent store', async () => {
    run = new ChaosRun({
      leads: LEADS, outageMs: 120_000, postRate: 30, drainTimeoutMs: 300_000,
      azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')),
      log: (line) => console.log(line),
    });
    await run.start();
    const result = await run.run();
    reportChaos(result, (line) => console.log(line));
    expectNothingLost(result, LEADS);
  }, 900_000);
});
