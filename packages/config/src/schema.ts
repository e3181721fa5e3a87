import { z } from 'zod';
import { checkOutboundUrl, checkTemplate, zDuration, zHttpUrl } from '@leadrelay/core';
import { dedupeSchema, ID_PATTERN, matchSchema, secretsSchema, sourceSchema } from './source-schema.js';
import { destinationTypes, type CommonDestinationSettings, type DestinationDefinition } from '@leadrelay/destinations';


const redisUrl = z.string().regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL');
const port = z.number().int().min(0).max(65535);
const DURATION_HELP = 'Duration: 500ms, 10s, 5m, 2h or 1d.';
const duration = (description: string) => zDuration().describe(`${description} ${DURATION_HELP}`);
/** A duration whose default is written as a person would write it (and shown so in the JSON Schema). */
const durationOr = (fallback: string, description: string) => zDuration().prefault(fallback).describe(`${description} ${DURATION_HELP}`);

const attempts = z.number().int().min(1).max(100);

const retrySchema = z.object({
  attempts: attempts.optional().describe('Attempts before a delivery is dead-lettered (throttling waits do not count); default: as many as `horizon` needs.'),
  horizon: durationOr('72h', 'When `attempts` is not set, the retries span at least this long (even with the shortest jitter): a CRM down over a weekend loses nothing.'),
  initialDelay: durationOr('10s', 'Delay before the first retry.'),
  maxDelay: durationOr('2h', 'Cap of the exponential backoff (with jitter).'),
  maxThrottleWait: durationOr('1d', "Total time one delivery may wait for a destination's throttling before that counts as an attempt."),
}).strict();

const retryOverride = z.object({
  attempts: attempts.optional().describe('Attempts before a delivery is dead-lettered.'),
  horizon: duration('Span of the retries when `attempts` is not set.').optional(),
  initialDelay: duration('Delay before the first retry.').optional(),
  maxDelay: duration('Cap of the exponential backoff.').optional(),
  maxThrottleWait: duration('Total throttling wait before it counts as an attempt.').optional(),
}).strict().describe('Overrides the global `retry` for this destination; any key may be left out.');

const fieldValue = z.union([z.string(), z.number(), z.boolean()]).superRefine((v, ctx) => {
  for (const problem of checkTemplate(v)) ctx.addIssue({ code: 'custom', message: problem });
});

/** Keys every destination has, whatever its type. */
const commonDestinationShape = {
  id: z.string().regex(ID_PATTERN, 'must match ^[a-z][a-z0-9-]{0,39}$ (lowercase letters, digits, dashes)')
    .describe('Unique id: lowercase letters, digits and dashes, starting with a letter.'),
  enabled: z.boolean().default(true).describe('A disabled destination takes no leads.'),
  match: matchSchema.prefault({}).describe('Which leads this destination takes; every key optional.'),
  concurrency: z.number().int().min(1).max(500).optional().describe('Deliveries (API calls) at once per worker process; default per type.'),
  rateLimit: z.object({
    max: z.number().int().min(1).describe('Calls allowed per window.'),
    per: duration('The window.'),
  }).strict().optional().describe('At most `max` calls per `per`, across all workers; default per type.'),
  retry: retryOverride.optional(),
  fields: z.record(z.string().min(1), fieldValue).optional()
    .describe('Extra or overriding destination fields. Values are templates: {{id}}, {{source}}, {{action}}, {{offer}}, {{offerTitle}}, {{leadSource}}, {{description}}, {{createdAt}}, {{customer.<field>}}, {{extra.<key>}}.'),
  allowInsecure: z.boolean().default(false).describe('Allow plain http to a non-loopback host (local emulators such as Azurite in compose).'),
};

function destinationVariant<T extends string, S extends z.ZodObject>(type: T, def: DestinationDefinition<S>) {
  const shape = { ...commonDestinationShape, type: z.literal(type), ...(def.settings.shape as S['shape']) };
  return z.object(shape).strict().superRefine((value, ctx) => {
    const s = value as z.output<S> & CommonDestinationSettings;
    const report = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    // These also run when other keys of the destination are wrong, so every problem is reported at once;
    // on such partial values a rule may throw, and then it has nothing reliable to say.
    attempt(() => def.refine?.(s, report));
    attempt(() => {
      for (const { path, url } of def.outboundUrls?.(s) ?? []) {
        if (typeof url !== 'string') continue;
        const problem = checkOutboundUrl(url, s.allowInsecure === true);
        if (problem) report(path, problem);
      }
    });
  }, { when: isObjectPayload });
}

function isObjectPayload(payload: { value: unknown }): boolean {
  return typeof payload.value === 'object' && payload.value !== null;
}

function attempt(rule: () => void): void {
  try {
    rule();
  } catch {
    // a partial value (another key already reported) the rule cannot judge
  }
}

type Types = typeof destinationTypes;
type Variant = { [K in keyof Types]: ReturnType<typeof destinationVariant<K & string, Types[K]['settings']>> }[keyof Types];

const variants = Object.entries(destinationTypes).map(([type, def]) => destinationVariant(type, def as DestinationDefinition)) as unknown as [Variant, ...Variant[]];

/** One destination: the common keys plus its type's own (from the destination registry). */
export const destinationSchema = z.discriminatedUnion('type', variants);

export const configSchema = z.object({
  redis: z.object({
    url: redisUrl.default('redis://127.0.0.1:6379').describe('redis:// or rediss:// (TLS) URL.'),
    prefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 letters, digits, _ or -').default('leadrelay')
      .describe('Every key and queue lives under it.'),
    cluster: z.array(redisUrl).min(1).optional().describe('Redis Cluster seed nodes, instead of `url`.'),
  }).strict().prefault({}),
  intake: z.object({
    host: z.string().default('0.0.0.0').describe('Address the intake server listens on.'),
    port: port.default(8080),
    apiKeys: z.array(z.string().min(16, 'must be at least 16 characters')).min(1, 'needs at least one key')
      .describe('Keys a client sends as `Authorization: Bearer`, `X-Api-Key` or `?code=`; at least 16 characters each.'),
    maxBodyBytes: z.number().int().min(1024).max(10_485_760).default(65_536).describe('Largest accepted request body.'),
    dedupeWindow: durationOr('24h', 'Identical id-less leads inside it are one lead.'),
    durability: z.string().regex(/^(none|aof|replicas:[1-9][0-9]?)$/, "must be none, aof or replicas:N (N from 1 to 99)").default('none')
      .describe('What a 202 waits for: none (in Redis memory), aof (fsynced to the append-only file: WAITAOF, or appendfsync always before Redis 7.2) or replicas:N (WAIT: N replicas have it; else 503, the lead is kept).'),
    durabilityTimeout: durationOr('2s', 'Longest wait for `durability` before answering 503 (the lead is kept).'),
  }).strict(),
  ops: z.object({
    host: z.string().default('0.0.0.0'),
    port: port.default(3000),
    username: z.string().min(1).default('ops'),
    password: z.string().min(8, 'must be at least 8 characters').optional().describe('Required to start the ops server.'),
  }).strict().prefault({}),
  worker: z.object({
    host: z.string().default('0.0.0.0'),
    metricsPort: port.default(9464).describe('Port of /healthz, /readyz and /metrics.'),
    shutdownTimeout: durationOr('30s', 'On SIGTERM, how long active deliveries may take before they are released.'),
    lockDuration: durationOr('20s', 'How long a worker that stopped answering (crash, SIGKILL) holds its active deliveries before another worker takes them over (plus at most 5 s for the stalled-job check).'),
  }).strict().prefault({}),
  network: z.object({
    proxy: z.object({
      url: z.string().regex(/^https?:\/\/[^/]+\/?$/, 'must be http://host:port (or https://host:port) of the proxy')
        .describe('Egress proxy every destination call goes through (https destinations tunnel with CONNECT); credentials as http://user:password@host:port.'),
      noProxy: z.array(z.string().min(1)).default([]).describe('Hosts reached directly: example.com (and its subdomains), .example.com, host:port, or * for all.'),
    }).strict().optional().describe('Instead of the HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment, which is used when this is not set.'),
  }).strict().prefault({}).describe('How destination clients reach the network.'),
  retry: retrySchema.prefault({}).describe('Default retry for every destination.'),
  defaults: z.object({
    placeholder: z.string().min(1).default('[not provided]').describe('Fills CRM-required fields a lead lacks (last name, company).'),
  }).strict().prefault({}),
  leads: z.object({
    retention: durationOr('30d', 'How long lead status and attempt timelines are kept.'),
  }).strict().prefault({}),
  deadLetters: z.object({
    retention: durationOr('90d', 'How long a dead-lettered delivery is kept for `dlq list` / `dlq replay` (the lead\'s status is kept as long); then it is deleted.'),
  }).strict().prefault({}),
  alerts: z.object({
    webhookUrl: zHttpUrl().refine((u) => checkOutboundUrl(u, false) === undefined, 'must be https; plain http is allowed only for loopback hosts')
      .optional().describe('Standard Webhooks-signed POST for each alert, when set (https; plain http only to loopback).'),
    signingSecret: z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/, "must be 'whsec_' followed by base64").optional(),
    queueWaitThreshold: durationOr('15m', "Alert when a destination's oldest waiting lead has waited longer than this."),
  }).strict().prefault({}),
  secrets: secretsSchema.prefault({}),
  dedupe: dedupeSchema.prefault({}).describe('How leads that reach LeadRelay more than once (webhook, table, referral) become one lead.'),
  sources: z.array(sourceSchema).default([]).describe('Pull sources beside the webhook intake: a MarketplaceLeads table, the Partner Center Referrals API.'),
  destinations: z.array(destinationSchema).min(1, 'needs at least one destination'),
}).strict().superRefine((c, ctx) => {
  // Runs even when other parts are invalid (`when`), so a duplicate id is reported with everything else.
  const ids = (list: unknown) => (Array.isArray(list) ? list : []).map((d) => (d as { id?: unknown } | null)?.id);
  const unique = (key: 'destinations' | 'sources', noun: string) => {
    const seen = new Map<string, number>();
    ids(c[key]).forEach((id, i) => {
      if (typeof id !== 'string') return;
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `duplicate ${noun} id '${id}' (first at ${key}[${seen.get(id)}])` });
      else seen.set(id, i);
    });
  };
  unique('destinations', 'destination');
  unique('sources', 'source');
  const destinationIds = new Set(ids(c.destinations));
  const sources: unknown[] = Array.isArray(c.sources) ? c.sources : [];
  sources.forEach((s, i) => {
    const source = s as { type?: unknown; enabled?: unknown; writeBack?: { destination?: unknown } } | null;
    const target = source?.writeBack?.destination;
    if (typeof target === 'string' && !destinationIds.has(target)) {
      ctx.addIssue({ code: 'custom', path: ['sources', i, 'writeBack', 'destination'], message: `names no destination: '${target}' (destinations: ${[...destinationIds].join(', ')})` });
    }
    if (source?.type === 'referrals' && source.enabled !== false && !c.secrets?.key) {
      ctx.addIssue({ code: 'custom', path: ['sources', i, 'type'], message: 'a referrals source needs secrets.key (32 bytes, base64) to encrypt its token cache' });
    }
  });
}, { when: isObjectPayload });

export type ParsedConfig = z.output<typeof configSchema>;
export type DestinationConfig = ParsedConfig['destinations'][number];
export type SourceConfig = ParsedConfig['sources'][number];
