import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import type { Relay } from '@leadrelay/queue';
import { uniquePrefix } from '../../../test/helpers/index.js';

export const KEY_ONE = 'intake-key-one-7f3a9c2e5b1d';
export const KEY_TWO = 'intake-key-two-4e8b6d0a2c9f';

/**
 * Three https destinations on a loopback URL (nothing delivers in these tests):
 * `all` takes every lead, `ins-only` only action INS, `contoso` only contoso.* offers and no test leads.
 */
/**
 * `mergeIdentity` false (default): these tests tell one customer's leads apart by their description, so
 * merging the same customer action (`dedupe.window`, on in a real config) is off unless a test asks for it.
 */
export function intakeConfig(redisUrl: string, options: { prefix?: string; maxBodyBytes?: number; mergeIdentity?: boolean } = {}): LeadRelayConfig {
  return parseConfig(`
redis:
  url: ${redisUrl}
  prefix: ${options.prefix ?? uniquePrefix('intake')}
intake:
  apiKeys: [${KEY_ONE}, ${KEY_TWO}]
  maxBodyBytes: ${options.maxBodyBytes ?? 2048}
  dedupeWindow: 1h
dedupe: { window: ${options.mergeIdentity ? '7d' : '0s'} }
destinations:
  - id: all
    type: https
    url: https://127.0.0.1:9/all
  - id: ins-only
    type: https
    url: https://127.0.0.1:9/ins
    match: { actions: [INS] }
  - id: contoso
    type: https
    url: https://127.0.0.1:9/contoso
    match: { offers: ["contoso.*"], testLeads: false }
`, 'intake-test.yaml', { env: {} });
}

export const DESTINATIONS = ['all', 'ins-only', 'contoso'] as const;

/** Jobs of every state in a destination's BullMQ queue. */
export async function jobCount(relay: Relay, destination: string): Promise<number> {
  const counts = await relay.queue(destination).getJobCounts();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

export async function jobCounts(relay: Relay): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const d of DESTINATIONS) out[d] = await jobCount(relay, d);
  return out;
}

/** Microsoft's HTTPS-endpoint JSON as the English LM-FAQ shows it: camelCase `userDetails`. */
export function microsoftJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    userDetails: { firstName: 'Some', lastName: 'One', email: 'someone@contoso.com', phone: '16175555555', country: 'USA', company: 'Contoso', title: 'Esquire' },
    leadSource: 'AzureMarketplace', actionCode: 'INS', offerTitle: 'Contoso Widget', description: 'Wants a demo',
    ...overrides,
  };
}

/** Microsoft's form-style MSFT_TEST lead (Web-to-Lead names, `encoding` twice, `oid`). */
export function msftTestForm(ticks = '636573304831318844', offer = 'contoso.widget'): string {
  const v = `MSFT_TEST_${ticks}`;
  return new URLSearchParams([
    ['encoding', 'UTF-8'], ['oid', '00Do0000000ZHog'], ['first_name', v], ['last_name', v], ['email', `${v}@test.com`],
    ['phone', '1234567890'], ['country', 'US'], ['company', v], ['title', v], ['description', v],
    ['lead_source', `${v}-${v}|${offer}`], ['encoding', 'UTF-8'],
  ]).toString();
}

export function canonical(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    leadSource: 'SPZA-PLT|fabrikam.app',
    offerTitle: 'Fabrikam App',
    customer: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@fabrikam.example', company: 'Fabrikam' },
    ...overrides,
  };
}

export function postLead(app: FastifyInstance, body: unknown, options: Partial<InjectOptions> & { key?: string | null } = {}): Promise<LightMyRequestResponse> {
  const { key = KEY_ONE, headers = {}, ...rest } = options;
  const isString = typeof body === 'string';
  const isBytes = Buffer.isBuffer(body);
  return app.inject({
    method: 'POST', url: '/v1/leads',
    headers: {
      'content-type': isString ? 'application/x-www-form-urlencoded' : 'application/json',
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...headers,
    },
    payload: isString || isBytes ? body : JSON.stringify(body),
    ...rest,
  } as InjectOptions);
}

/** Collects every line a pino logger writes. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString().split('\n')) if (line.trim()) this.lines.push(line);
    done();
  }

  get records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  get text(): string {
    return this.lines.join('\n');
  }
}
