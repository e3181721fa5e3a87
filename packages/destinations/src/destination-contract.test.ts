import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { DeliveryError, ThrottledError, type Lead } from '@leadrelay/core';
import { readTlsCert } from '../../../test/helpers/tls-cert.js';
import { destinationTypes } from './registry.js';
import type { DestinationClient } from './destination.js';
import { CANONICAL_FAILURES, contractId, goldenLeads, type CanonicalFailure, type ContractFixture } from './__tests__/contract-kit.js';
import { contractHarnesses } from './__tests__/contract-harnesses.js';

/**
 * The contract every destination type keeps, run over every registered harness: golden leads are delivered
 * within the vendor's field limits, canonical failures are classified alike, no lead makes a client throw
 * anything but a DeliveryError, and a repeated delivery leaves one record.
 */
describe('every destination type has a contract harness', () => {
  it.each(Object.keys(destinationTypes))('%s', (type) => {
    expect(contractHarnesses.map((h) => h.type), `register a ContractHarness for '${type}' in __tests__/contract-harnesses.ts`).toContain(type);
  });
});

const EXPECTED: Record<CanonicalFailure, { kind: DeliveryError['kind']; throttled?: boolean }> = {
  timeout: { kind: 'transient' },
  '5xx': { kind: 'transient' },
  '429': { kind: 'throttled', throttled: true },
  auth: { kind: 'configuration' },
  validation: { kind: 'permanent' },
  'record-reject': { kind: 'permanent' },
};

function plainLead(name: string): Lead {
  return {
    id: contractId(name), source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget-pro',
    customer: { firstName: 'Grace', lastName: 'Hopper', email: `${name}-${Date.now()}@contoso.com`, company: 'Navy', country: 'US' },
    createdAt: '2026-03-01T10:20:30.000Z', testLead: false,
  };
}

async function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => 'delivered', (e: unknown) => e);
}

for (const harness of contractHarnesses) {
  describe(`contract: ${harness.name}`, () => {
    let fx: ContractFixture;
    let warm: DestinationClient;
    beforeAll(async () => {
      fx = await harness.start({ azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')) });
      warm = await fx.client();
    }, 60_000);
    afterAll(async () => { await warm?.close?.(); await fx?.close(); });
    beforeEach(() => fx.reset());

    describe('golden leads are delivered within the vendor\'s field limits', () => {
      it.each(goldenLeads().map((g) => [g.name, g.lead] as const))('%s', async (name, lead) => {
        if (harness.goldenRejects?.[name]) {
          // A lead this vendor cannot take: a clear permanent failure, never a retry loop or a crash.
          const e = await outcome(warm.deliver(lead));
          expect(e).toBeInstanceOf(DeliveryError);
          expect((e as DeliveryError).kind).toBe('permanent');
          expect((e as DeliveryError).remediation).toBeTruthy();
          return;
        }
        const result = await warm.deliver(lead);
        expect(result).toBeTypeOf('object');
        const stored = await fx.stored(lead);
        expect(stored.length).toBeGreaterThanOrEqual(1);
        for (const record of stored) {
          for (const [field, value] of Object.entries(record)) {
            const max = fx.limits[field];
            if (typeof value === 'string' && max !== undefined) expect(value.length, `${field} (${value.length} > ${max})`).toBeLessThanOrEqual(max);
          }
        }
      });
    });

    describe('canonical failures are classified alike', () => {
      for (const failure of CANONICAL_FAILURES) {
        const exempt = harness.exempt?.[failure];
        (exempt ? it.skip : it)(`${failure}${exempt ? ` (exempt: ${exempt})` : ''}`, async () => {
          const c = await fx.client({ shortTimeout: failure === 'timeout' });
          try {
            await c.deliver(plainLead('warm')); // tokens, describe, table: the fault hits the write
            const lead = plainLead(failure);
            fx.inject(failure, lead);
            const e = await outcome(c.deliver(lead));
            expect(e).toBeInstanceOf(DeliveryError);
            const err = e as DeliveryError;
            expect(err.kind, err.message).toBe(EXPECTED[failure].kind);
            if (EXPECTED[failure].throttled) {
              expect(err).toBeInstanceOf(ThrottledError);
              expect((err as ThrottledError).retryAfterMs).toBe(fx.throttleWaitMs ?? 7_000);
            }
            if (err.kind === 'configuration' || err.kind === 'permanent') expect(err.remediation, 'a remediation').toBeTruthy();
          } finally {
            await c.close?.();
          }
        }, 20_000);
      }
    });

    it('never throws anything but a DeliveryError, whatever the lead', async () => {
      const odd: Lead[] = [
        { ...plainLead('empty'), customer: {} },
        { ...plainLead('blank'), customer: { firstName: ' ', lastName: '\t', email: ' ', company: '' } },
        { ...plainLead('control'), customer: { firstName: 'a\u0000b\u001f', lastName: 'x\r\ny', email: 'not-an-email' }, description: '\uD800 lone surrogate' },
        { ...plainLead('huge'), description: 'd'.repeat(100_000), extra: { big: 'e'.repeat(10_000) } },
      ];
      for (const lead of odd) {
        const e = await outcome(warm.deliver(lead));
        if (e !== 'delivered') expect(e, String(e)).toBeInstanceOf(DeliveryError);
      }
    });

    const idem = harness.exempt?.idempotent;
    (idem ? it.skip : it)(`is idempotent on a repeated delivery${idem ? ` (exempt: ${idem})` : ''}`, async () => {
      const lead = plainLead('twice');
      await warm.deliver(lead);
      const other = await fx.client();
      try {
        await other.deliver(lead); // a retry from another worker
      } finally {
        await other.close?.();
      }
      expect(await fx.stored(lead)).toHaveLength(1);
    });
  });
}
