import { z } from 'zod';
import { attemptsForHorizon, checkOutboundUrl, checkTemplate, DURATION_HELP, parseDuration, zDuration, zHttpUrl, zWebhookSecret } from '@leadrelay/core';
import { dedupeSchema, ID_PATTERN, matchSchema, secretsSchema, sourceSchema } from './source-schema.js';
import { destinationTypes, type CommonDestinationSettings, type DestinationDefinition } from '@leadrelay/destinations';


const redisUrl = z.string().regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL');
const port = z.number().int().min(0).max(65535);
const duration = (description: string) => zDuration().describe(`${description} ${DURATION_HELP}`);
/** A duration whose default is written as a person would write it (and shown so in the JSON Schema). */
const durationOr = (fallback: string, description: string) => zDuration().prefault(fallback).describe(`${description} ${DURATION_HELP}`);

const attempts = z.number().int().min(1).max(100);

const RETRY_DEFAULTS = { horizon: '72h', initialDelay: '10s', maxDelay: '2h' } as const;
/** Stated in `retry.attempts`' description, computed so the text follows the defaults. */
const defaultAttempts = attemptsForHorizon(parseDuration(RETRY_DEFAULTS.initialDelay)!, parseDuration(RETRY_DEFAULTS.maxDelay)!, parseDuration(RETRY_DEFAULTS.horizon)!);

const retrySchema = z.object({
  attempts: attempts.optional().describe(`Attempts before a delivery is dead-lettered (throttling waits do not count). Default: as many as \`horizon\` needs (${defaultAttempts} with the default delays).`),
  horizon: durationOr(RETRY_DEFAULTS.horizon, 'When `attempts` is not set, the retries span at least this long, even with the shortest jitter, so a CRM down over a weekend loses nothing (README: attempt → delay table).'),
  initialDelay: durationOr(RETRY_DEFAULTS.initialDelay, 'Delay before the first retry; each later delay doubles, with jitter.'),
  maxDelay: durationOr(RETRY_DEFAULTS.maxDelay, 'Cap of the exponential backoff (with jitter).'),
  maxThrottleWait: durationOr('1d', "Total time one delivery may wait for a destination's throttling before throttling counts as an attempt (quota waits with a known reset never count)."),
}).strict();

const retryOverride = z.object({
  attempts: attempts.optional().describe('Attempts before a delivery is dead-lettered. Default: the global `retry.attempts`, else as many as `horizon` needs.'),
  horizon: duration('Span of the retries when `attempts` is not set. Default: the global `retry.horizon`.').optional(),
  initialDelay: duration('Delay before the first retry. Default: the global `retry.initialDelay`.').optional(),
  maxDelay: duration('Cap of the exponential backoff. Default: the global `retry.maxDelay`.').optional(),
  maxThrottleWait: duration('Total throttling wait before it counts as an attempt. Default: the global `retry.maxThrottleWait`.').optional(),
}).strict().describe('Overrides the global `retry` for this destination; any key may be left out. Default: the global `retry`.');

const fieldValue = z.union([z.string(), z.number(), z.boolean()]).superRefine((v, ctx) => {
  for (const problem of checkTemplate(v)) ctx.addIssue({ code: 'custom', message: problem });
});

/** Keys every destination has, whatever its type. */
const commonDestinationShape = {
  id: z.string().regex(ID_PATTERN, 'must match ^[a-z][a-z0-9-]{0,39}$ (lowercase letters, digits, dashes)')
    .describe('Unique among destinations: lowercase letters, digits and dashes, starting with a letter, at most 40 characters.'),
  enabled: z.boolean().default(true).describe('A disabled destination takes no leads.'),
  match: matchSchema.prefault({}).describe('Which leads this destination takes; every key optional.'),
  concurrency: z.number().int().min(1).max(500).optional().describe("Deliveries (API calls, for batching types) at once per worker process. Default: the type's own, stated under the type."),
  rateLimit: z.object({
    max: z.number().int().min(1).describe('Calls allowed per window.'),
    per: duration('The window.'),
  }).strict().optional().describe("At most `max` calls per `per`, across all workers. Default: the type's own, stated under the type."),
  retry: retryOverride.optional(),
  fields: z.record(z.string().min(1), fieldValue).optional()
    .describe("Extra or overriding destination fields. Each value is a template: {{id}}, {{source}}, {{action}}, {{offer}}, {{offerTitle}}, {{leadSource}}, {{description}}, {{createdAt}}, {{customer.<field>}}, {{extra.<key>}}. Default: none beyond the type's own mapping."),
  allowInsecure: z.boolean().default(false).describe('Allow plain http to a non-loopback host (local emulators such as Azurite in compose).'),
};

/** What the variant's title and description say about the defaults a type gives `concurrency` and `rateLimit`. */
function typeDefaultsText(def: DestinationDefinition): string {
  const { concurrency, rateLimit } = def.defaults;
  const limit = rateLimit ? `at most ${rateLimit.max} calls per ${rateLimit.perMs / 1000}s` : 'no rate limit';
  return `${def.title}. Defaults: concurrency ${concurrency}, ${limit}.`;
}

function destinationVariant<T extends string, S extends z.ZodObject>(type: T, def: DestinationDefinition<S>) {
  const typeKey = z.literal(type).describe('Kind of destination; it decides which other keys the destination takes.');
  const shape = { ...commonDestinationShape, type: typeKey, ...(def.settings.shape as S['shape']) };
  return z.object(shape).strict().meta({ title: def.title, description: typeDefaultsText(def as DestinationDefinition) }).superRefine((value, ctx) => {
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
    url: redisUrl.default('redis://127.0.0.1:6379').describe('redis:// or rediss:// (TLS) URL; credentials in it are never logged.'),
    prefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 letters, digits, _ or -').default('leadrelay')
      .describe('Every key and queue lives under `{prefix}` (a Redis Cluster hash tag): 1-32 letters, digits, _ or -.'),
    cluster: z.array(redisUrl).min(1).optional().describe('Redis Cluster seed nodes (`[redis://10.0.0.1:6379, …]`), instead of `url`. Default: none, a single Redis at `url`.'),
  }).strict().prefault({}).meta({ title: 'Redis', description: 'The Redis that holds the queues, lead status and dedupe keys.' }),
  intake: z.object({
    host: z.string().default('0.0.0.0').describe('Address the intake server listens on.'),
    port: port.default(8080).describe('Port the intake server listens on.'),
    apiKeys: z.array(z.string().min(16, 'must be at least 16 characters')).min(1, 'needs at least one key')
      .describe('Keys a client sends as `Authorization: Bearer`, `X-Api-Key` or `?code=`; at least one, of at least 16 characters each.'),
    maxBodyBytes: z.number().int().min(1024).max(10_485_760).default(65_536).describe('Largest accepted request body in bytes; a larger one gets 413.'),
    dedupeWindow: durationOr('24h', 'Identical id-less leads inside it are one lead.'),
    durability: z.string().regex(/^(none|aof|replicas:[1-9][0-9]?)$/, "must be none, aof or replicas:N (N from 1 to 99)").default('none')
      .describe('What a 202 waits for: none (in Redis memory), aof (fsynced to the append-only file: WAITAOF, or appendfsync always before Redis 7.2) or replicas:N (WAIT: N replicas have it; else 503, the lead is kept).'),
    durabilityTimeout: durationOr('2s', 'Longest wait for `durability` before answering 503 (the lead is kept).'),
  }).strict().meta({ title: 'Intake', description: 'The HTTP server Microsoft posts leads to.' }),
  ops: z.object({
    host: z.string().default('0.0.0.0').describe('Address the ops server (dashboard, API) listens on.'),
    port: port.default(3000).describe('Port the ops server (dashboard, API) listens on.'),
    username: z.string().min(1).default('ops').describe('Basic-auth user name of the ops server.'),
    password: z.string().min(8, 'must be at least 8 characters').optional()
      .describe('Basic-auth password of the ops server, at least 8 characters. Default: none, and the ops server refuses to start without one.'),
  }).strict().prefault({}).meta({ title: 'Ops server', description: 'The dashboard and its API.' }),
  worker: z.object({
    host: z.string().default('0.0.0.0').describe("Address of the worker's /healthz, /readyz and /metrics."),
    metricsPort: port.default(9464).describe("Port of the worker's /healthz, /readyz and /metrics."),
    shutdownTimeout: durationOr('30s', 'On SIGTERM, how long active deliveries may take to finish before they are released.'),
    lockDuration: durationOr('20s', 'How long a worker that stopped answering (crash, SIGKILL) holds its active deliveries before another worker takes them over (plus at most 5 s for the stalled-job check).'),
    repairEvery: durationOr('10m', 'How often one worker process looks for leads an intake stored but did not finish queueing (it died midway) and queues them; 0s never (then run `leadrelay audit --repair` yourself).'),
  }).strict().prefault({}).meta({ title: 'Worker', description: 'The process that delivers leads to destinations.' }),
  network: z.object({
    proxy: z.object({
      url: z.string().regex(/^https?:\/\/[^/]+\/?$/, 'must be http://host:port (or https://host:port) of the proxy')
        .describe('Egress proxy every destination call goes through (https destinations tunnel with CONNECT); credentials as http://user:password@host:port.'),
      noProxy: z.array(z.string().min(1)).default([]).describe('Hosts reached directly: example.com (and its subdomains), .example.com, host:port, or * for all.'),
    }).strict().optional().describe('Egress proxy for destination calls. Default: the HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment variables, when set.'),
  }).strict().prefault({}).meta({ title: 'Network', description: 'How destination clients reach the network.' }),
  retry: retrySchema.prefault({}).meta({ title: 'Retry', description: 'Default retry for every destination (each may override it).' }),
  defaults: z.object({
    placeholder: z.string().min(1).default('[not provided]').describe('Fills CRM-required fields a lead lacks (last name, company).'),
  }).strict().prefault({}).meta({ title: 'Defaults', description: 'Values used where a lead lacks what a CRM requires.' }),
  leads: z.object({
    retention: durationOr('30d', 'How long lead status and attempt timelines are kept in Redis.'),
  }).strict().prefault({}).meta({ title: 'Leads', description: 'What is kept about each lead.' }),
  deadLetters: z.object({
    retention: durationOr('90d', 'How long a dead-lettered delivery is kept for `dlq list` / `dlq replay` (the lead\'s status is kept as long); then a worker deletes it.'),
  }).strict().prefault({}).meta({ title: 'Dead letters', description: 'Deliveries that used up their retries.' }),
  alerts: z.object({
    webhookUrl: zHttpUrl().refine((u) => checkOutboundUrl(u, false) === undefined, 'must be https; plain http is allowed only for loopback hosts')
      .optional().describe('Every alert is also POSTed here in the Standard Webhooks format, signed when `signingSecret` is set (https; plain http only to loopback). Default: none, alerts are only logged.'),
    signingSecret: zWebhookSecret().optional()
      .describe('Standard Webhooks secret (`whsec_…`) that signs the posts to `webhookUrl`. Default: none, the posts are not signed.'),
    targets: z.array(z.object({
      type: z.enum(['webhook', 'slack', 'teams']).describe('webhook: the signed generic JSON, as `webhookUrl`. slack: a Slack incoming webhook URL. teams: a Microsoft Teams Workflows webhook URL ("When a Teams webhook request is received").'),
      url: zHttpUrl().refine((u) => checkOutboundUrl(u, false) === undefined, 'must be https; plain http is allowed only for loopback hosts')
        .describe('Where this target\'s alerts are POSTed (https; plain http only to loopback).'),
      signingSecret: zWebhookSecret().optional()
        .describe('(webhook only) Standard Webhooks secret that signs the posts. Default: none, the posts are not signed.'),
    }).strict().refine((t) => t.type === 'webhook' || t.signingSecret === undefined, { message: 'signingSecret is only for type webhook (Slack and Teams check the URL, not a signature)', path: ['signingSecret'] }))
      .default([]).describe('Further places every alert goes, each `{type: webhook|slack|teams, url, signingSecret?}` and sent in the format its receiver reads (README: Alerts).'),
    queueWaitThreshold: durationOr('15m', "Alert when a destination's oldest waiting lead has waited longer than this."),
  }).strict().prefault({}).meta({ title: 'Alerts', description: 'Where alerts go and when they fire.' }),
  secrets: secretsSchema.prefault({}).meta({ title: 'Secrets', description: 'Keys LeadRelay uses for what it stores itself.' }),
  dedupe: dedupeSchema.prefault({}).meta({ title: 'Dedupe', description: 'How leads that reach LeadRelay more than once (webhook, table, referral) become one lead.' }),
  // prefault: zod leaves a `.default()` out of the input JSON Schema when the value holds transforms (durations).
  sources: z.array(sourceSchema).prefault([]).describe('Pull sources beside the webhook intake: a MarketplaceLeads table, the Partner Center Referrals API.'),
  destinations: z.array(destinationSchema).min(1, 'needs at least one destination').describe('Where leads are delivered; at least one.'),
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
