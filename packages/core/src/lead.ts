/** The seven customer fields Microsoft sends; every one may be missing (privacy stripping, .edu leads). */
export interface CustomerInfo {
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  country?: string;
  company?: string;
  title?: string;
}

export const CUSTOMER_FIELDS = ['firstName', 'lastName', 'email', 'phone', 'country', 'company', 'title'] as const;

/** The canonical lead every intake format is normalised into and every destination maps from. */
export interface Lead {
  /** Client id or content-derived id; `^[A-Za-z0-9._-]{1,128}$`. */
  id: string;
  /** `AzureMarketplace`, `AzurePortal`, `SPZA`, `TestDrive`, or anything a non-Microsoft source sends. */
  source: string;
  /** `INS`, `PLT`, `DNC`, `Create`, `StartTestDrive`, … */
  action: string;
  /** `publisherid.offerid`. */
  offer: string;
  offerTitle?: string;
  customer: CustomerInfo;
  description?: string;
  /** ISO-8601; when the client gave none, the time intake received it. */
  createdAt: string;
  extra?: Record<string, string | number | boolean | null>;
  /** True for Microsoft's `MSFT_TEST` validation leads. */
  testLead: boolean;
}

/** Microsoft's `Source-Action|Offer` string, used as the lead-source field in CRMs. */
export function formatLeadSource(lead: Pick<Lead, 'source' | 'action' | 'offer'>): string {
  return `${lead.source}-${lead.action}|${lead.offer}`;
}

export interface ParsedLeadSource {
  source: string;
  action: string;
  offer: string;
}

/**
 * Splits `Source-Action|Offer`. The source never contains `-`, the offer may contain anything
 * (offer ids often contain `-` and `|` never appears before it), so split on the first `|`, then the first `-`.
 */
export function parseLeadSource(value: string): ParsedLeadSource | undefined {
  const bar = value.indexOf('|');
  if (bar < 0) return undefined;
  const head = value.slice(0, bar);
  const offer = value.slice(bar + 1).trim();
  const dash = head.indexOf('-');
  if (dash < 0) return undefined;
  const source = head.slice(0, dash).trim();
  const action = head.slice(dash + 1).trim();
  if (source === '' || action === '' || offer === '') return undefined;
  return { source, action, offer };
}

const TEST_MARKER = 'MSFT_TEST';

/** Microsoft's validation leads carry `MSFT_TEST_<ticks>` in their values. */
export function isTestLead(lead: Omit<Lead, 'testLead' | 'id' | 'createdAt'>): boolean {
  const marked = (v: unknown) => typeof v === 'string' && v.trim().toUpperCase().startsWith(TEST_MARKER);
  if (marked(lead.source) || marked(lead.action) || marked(lead.offer) || marked(lead.offerTitle) || marked(lead.description)) return true;
  for (const k in lead.customer) if (marked(lead.customer[k as keyof typeof lead.customer])) return true;
  return false;
}

/** A `MSFT_TEST_<ticks>` lead shaped like the one Microsoft sends when a publisher presses Validate. */
export function makeTestLead(now: Date = new Date()): Omit<Lead, 'id'> {
  // .NET ticks: 100 ns intervals since 0001-01-01.
  const ticks = (BigInt(now.getTime()) * 10_000n + 621_355_968_000_000_000n).toString();
  const marker = `${TEST_MARKER}_${ticks}`;
  return {
    source: marker,
    action: marker,
    offer: 'leadrelay.test-lead',
    offerTitle: 'LeadRelay test lead',
    customer: {
      firstName: marker,
      lastName: marker,
      email: `${marker}@test.com`,
      phone: '1234567890',
      country: 'US',
      company: marker,
      title: marker,
    },
    description: marker,
    createdAt: now.toISOString(),
    testLead: true,
  };
}
