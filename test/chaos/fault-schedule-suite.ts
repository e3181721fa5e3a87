import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultScheduleBench, faultSchedule, scheduleSeeds, type ScheduleResult } from './fault-schedule.js';

/**
 * Seeded fault schedules: while 40 leads flow through an intake process to two destinations via two
 * worker processes, each schedule SIGKILLs and restarts intake and workers, kills and restarts Redis,
 * cuts and slows the Redis and destination connections (TCP proxies) and answers 429/5xx in bursts,
 * at moments its seed picks. After each: the zero-loss audit balances with nothing lost, every accepted
 * lead is at both destinations, and no lead arrived there under a second id.
 * Replay one: `LEADRELAY_CHAOS_SEED=<seed> npx vitest run <this file>`.
 */
export function faultScheduleSuite(count: number): void {
  describe(`fault schedules (${count}, seeded)`, () => {
    let bench: FaultScheduleBench;
    const seeds = scheduleSeeds(count);
    const failed: number[] = [];
    beforeAll(async () => { bench = await FaultScheduleBench.start(); }, 60_000);
    afterAll(async () => {
      await bench?.stop();
      console.log(`fault schedules: ${seeds.length} run, ${failed.length ? `failed seeds ${failed.join(', ')}` : 'none failed'}`);
    }, 60_000);

    for (const seed of seeds) {
      it(`seed ${seed}: nothing lost, nothing doubled`, async () => {
        const result = await bench.run(faultSchedule(seed));
        console.log(`seed ${seed}: ${result.schedule.faults.map((f) => f.kind).join(', ')}; ${(result.durationMs / 1000).toFixed(1)} s, ${result.redeliveries} redelivered (kept once)`);
        try {
          expectIntact(result);
        } catch (e) {
          failed.push(seed);
          console.log(`seed ${seed} failed; replay with LEADRELAY_CHAOS_SEED=${seed}\n${result.events.join('\n')}`);
          throw e;
        }
      }, 120_000);
    }
  });
}

function expectIntact(r: ScheduleResult): void {
  const what = `seed ${r.schedule.seed}`;
  expect(r.crashed, `${what}: processes died unasked`).toEqual([]);
  expect(r.drained, `${what}: drained within 60 s`).toBe(true);
  expect(r.audit.lostTotal, `${what}: lost ${JSON.stringify(r.audit.lost)}`).toBe(0);
  expect(r.audit.balanced, `${what}: audit equation`).toBe(true);
  for (const d of r.audit.destinations) expect({ destination: d.destination, dead: d.dead }).toEqual({ destination: d.destination, dead: 0 });
  expect(r.missing, `${what}: accepted but never received`).toEqual([]);
  expect(r.unexpected, `${what}: received under an id intake never gave`).toEqual([]);
}
