import { afterAll, describe, inject, it } from 'vitest';
import { readTlsCert } from '../helpers/tls-cert.js';
import { expectNothingLost, reportChaos } from './chaos-assertions.js';
import { ChaosRun } from './chaos-run.js';

export interface ChaosScenario {
  title: string;
  leads: number;
  outageMs: number;
  postRate: number;
  drainTimeoutMs: number;
  testTimeoutMs: number;
}

/** The chaos test, sized by the caller: the full run (`npm run test:chaos`) and the reduced one in `npm test`. */
export function chaosScenario(s: ChaosScenario): void {
  describe(s.title, () => {
    let run: ChaosRun | undefined;
    afterAll(async () => run?.stop(), 60_000);

    it('delivers every accepted lead everywhere it matched, once per idempotent store', async () => {
      run = new ChaosRun({
        leads: s.leads, outageMs: s.outageMs, postRate: s.postRate, drainTimeoutMs: s.drainTimeoutMs,
        azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')),
        log: (line) => console.log(line),
      });
      await run.start();
      const result = await run.run();
      reportChaos(result, (line) => console.log(line));
      expectNothingLost(result, s.leads);
    }, s.testTimeoutMs);
  });
}
