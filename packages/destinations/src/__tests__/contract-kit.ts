import type { Lead } from '@leadrelay/core';
import { silentLogger } from '@leadrelay/observability';
import type { DestinationClient, DestinationContext } from '../destination.js';
import { MemoryRollingQuota } from '../shared/index.js';

/** The failures every destination must classify the same way, whatever its wire protocol. */
export const CANONICAL_FAILURES = ['timeout', '5xx', '429', 'auth', 'validation', 'record-reject'] as const;
export type CanonicalFailure = (typeof CANONICAL_FAILURES)[number];

/** What the fakes and Azurite of the test run provide (vitest `inject`). */
export interface ContractEnvironment {
  azuriteConnectionString: string;
  tls: { cert: string; key: string };
}

/** One destination type (or one mode of it) running against its fake, as the contract suite drives it. */
export interface ContractFixture {
  /** A new client with the fixture's settings; `shortTimeout` makes `timeout` fail within a second. */
  client(options?: { shortTimeout?: boolean }): Promise<DestinationClient>;
  /** Makes the next write to the vendor fail this way (after a warm-up delivery, so tokens and setup are done). */
  inject(failure: CanonicalFailure, lead: Lead): void;
  /** Records the vendor stores (or received) for this lead. */
  stored(lead: Lead): Promise<Record<string, unknown>[]>;
  /** The vendor's text lengths by stored field name: every stored value must fit. */
  limits: Readonly<Record<string, number>>;
  /** Throttling waits the vendor's 429 (or its equivalent) must produce, in ms (default 7 000: `Retry-After: 7`). */
  throttleWaitMs?: number;
  /** Clears injected faults. */
  reset(): void;
  close(): Promise<void>;
}

/** A registered destination type: how to start it against its fake, and what it cannot do (with why). */
export interface ContractHarness {
  /** The `destinationTypes` key. */
  type: string;
  /** Several modes of one type register one harness each (`salesforce api`, `salesforce web-to-lead`). */
  name: string;
  start(env: ContractEnvironment): Promise<ContractFixture>;
  /** Golden leads (by name) the vendor cannot take, with why: they must fail permanently with a remediation. */
  goldenRejects?: Record<string, string>;
  /** Contract points this wire protocol cannot satisfy, with the reason (shown as a skipped test). */
  exempt?: Partial<Record<CanonicalFailure | 'idempotent', string>>;
}

/** Shared by the harnesses; a test may set `network` before building a client (read at construction). */
export const contractContext: DestinationContext = {
  logger: silentLogger,
  placeholder: '[not provided]',
  rollingQuota: (_name, limit, windowMs) => new MemoryRollingQuota(limit, windowMs),
};

let seq = 0;
/** A lead id unique in the run (fakes are shared by the tests of one harness). */
export function contractId(name: string): string {
  return `contract-${name}-${process.pid}-${++seq}`;
}

const BASE: Omit<Lead, 'id' | 'customer'> = {
  source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget-pro', offerTitle: 'Contoso Widget Pro',
  createdAt: '2026-03-01T10:20:30.000Z', testLead: false,
};

/** 300 characters of `unit`, repeated. */
function chars300(unit: string): string {
  let out = '';
  for (const ch of unit.repeat(300)) {
    if (out.length + ch.length > 300) break;
    out += ch;
  }
  return out;
}

/** The golden leads: what every destination must map within its vendor's limits and deliver. */
export function goldenLeads(): { name: string; lead: Lead }[] {
  const ticks = '638700000000000000';
  const marker = `MSFT_TEST_${ticks}`;
  return [
    {
      name: 'Microsoft test lead',
      lead: {
        id: contractId('msft-test'), source: marker, action: marker, offer: 'leadrelay.test-lead', offerTitle: 'Contoso Test',
        customer: { firstName: marker, lastName: marker, email: `${marker}@test.com`, phone: '1234567890', country: 'US', company: marker, title: marker },
        description: marker, createdAt: '2026-03-01T10:20:30.000Z', testLead: true,
      },
    },
    {
      name: 'a lead with every field',
      lead: {
        ...BASE, id: contractId('every-field'),
        customer: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@contoso.com', phone: '+44 20 7946 0000', country: 'GB', company: 'Analytical Engines', title: 'CTO' },
        description: 'Interested in the enterprise plan', extra: { campaign: 'spring', seats: 25, hot: true, note: null },
      },
    },
    {
      name: 'non-Latin names and 300-character values',
      lead: {
        ...BASE, id: contractId('long'), offer: `contoso.${'x'.repeat(292)}`, offerTitle: chars300('Ωμέγα '),
        customer: {
          firstName: chars300('Ярослава'), lastName: chars300('山田太郎'), email: `${'a'.repeat(288)}@contoso.com`,
          phone: chars300('+81 3 1234 5678 '), country: 'Japan', company: chars300('شركة المستقبل '), title: chars300('最高技術責任者'),
        },
        description: chars300('😀 emoji and 한국어 '),
      },
    },
    {
      name: 'a lead with no email',
      lead: { ...BASE, id: contractId('no-email'), source: 'SPZA', action: 'PLT', customer: { firstName: 'Student', lastName: 'Edu' } },
    },
  ];
}
