import { afterAll, describe, inject, it } from 'vitest';
import { expectNothingLost, reportChaos } from '../chaos/chaos-assertions.js';
import { ChaosRun } from '../chaos/chaos-run.js';
import { readTlsCert } from '../helpers/tls-cert.js';

const LEADS = 300;

/**
 * The chaos scenario of test/chaos reduced for `npm test`: the same faults (three worker SIGKILLs, a Redis
 * SIGKILL + restart from its AOF, a webhook outage, a burst of 429s) on 300 leads with a 10-second outage.
 */
describe('chaos (reduced): 300 leads through crashes, a Redis restart and an outage', () => {
  let run: ChaosRun | undefined;
  afterAll(async () => run?.stop(), 60_000);

  it('delivers every accepted lead everywhere it matched, once per idempotent store', async () => {
    run = new ChaosRun({
      leads: LEADS, outageMs: 10_000, postRate: 20, drainTimeoutMs: 90_000,
      azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')),
      log: (line) => console.log(line),
    });
    await run.start();
    const result = await run.run();
    reportChaos(result, (line) => console.log(line));
    expectNothingLost(result, LEADS);
  }, 240_000);
});
