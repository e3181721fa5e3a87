import { z } from 'zod';
import { checkOutboundUrl, checkTemplate, zDuration, zHttpUrl } from '@leadrelay/core';
import { destinationTypes, type DestinationDefinition } from '@leadrelay/destinations';

const DESTINATION_ID = /^[a-z][a-z0-9-]{0,39}$/;

const redisUrl = z.string().regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL');

const retrySchema = z.object({
  /** Attempts before a delivery is dead-lettered (throttling waits do not count). */
  attempts: z.number().int().min(1).max(100).default(12),
  initialDelay: zDuration().default(10_000),
  /** Backoff is exponential with jitter, capped here. */
  maxDelay: zDuration().default(7_200_000),
  /** Total time one delivery may spend waiting for a destination's throttling before it counts as an attempt. */
  maxThrottleWait: zDuration().default(86_400_000),
}).strict();

/** Per-destination retry: any key overrides the global `retry`. */
const retryOverride = z.object({
  attempts: z.number().int().min(1).max(100).optional(),
  initialDelay: zDuration().optional(),
  maxDelay: zDuration().optional(),
  maxThrottleWait: zDuration().optional(),
}).strict();

const matchSchema = z.object({
  actions: z.array(z.string().min(1)).optional(),
  sources: z.array(z.string().min(1)).optional(),
  /** Globs on `publisherid.offerid` (`*` any run of characters, `?` one). */
  offers: z.array(z.string().min(1)).optional(),
  /** Whether MSFT_TEST leads go here (default true). */
  testLeads: z.boolean().default(true),
}).strict();

const fieldValue = z.union([z.string(), z.number(), z.boolean()]).superRefine((v, ctx) => {
  for (const problem of checkTemplate(v)) ctx.addIssue({ code: 'custom', message: problem });
});

/** Keys every destination has, whatever its type. */
const commonDestinationShape = {
  id: z.string().regex(DESTINATION_ID, 'must match ^[a-z][a-z0-9-]{0,39}$ (lowercase letters, digits, dashes)'),
  enabled: z.boolean().default(true),
  match: matchSchema.default({ testLeads: true }),
  /** Leads delivered at once by one worker process (default per type). */
  concurrency: z.number().int().min(1).max(500).optional(),
  /** At most `max` deliveries (API calls, for batching types) per `per`, across all workers. */
  rateLimit: z.object({ max: z.number().int().min(1), per: zDuration() }).strict().optional(),
  retry: retryOverride.optional(),
  fields: z.record(z.string().min(1), fieldValue).optional(),
  /** Allow plain http to a non-loopback host (local emulators such as Azurite in compose). */
  allowInsecure: z.boolean().default(false),
};

function destinationVariant<T extends string, S extends z.ZodObject>(type: T, def: DestinationDefinition<S>) {
  const shape = { ...commonDestinationShape, type: z.literal(type), ...(def.settings.shape as S['shape']) };
  return z.object(shape).strict().superRefine((value, ctx) => {
    const s = value as z.output<S> & { allowInsecure: boolean };
    def.refine?.(s, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
    for (const { path, url } of def.outboundUrls?.(s) ?? []) {
      const problem = checkOutboundUrl(url, s.allowInsecure);
      if (problem) ctx.addIssue({ code: 'custom', path, message: problem });
    }
  });
}

type Types = typeof destinationTypes;
type Variant = { [K in keyof Types]: ReturnType<typeof destinationVariant<K & string, Types[K]['settings']>> }[keyof Types];

const variants = Object.entries(destinationTypes).map(([type, def]) => destinationVariant(type, def as DestinationDefinition)) as unknown as [Variant, ...Variant[]];

/** One destination: the common keys plus its type's own (from the destination registry). */
export const destinationSchema = z.discriminatedUnion('type', variants);

export const configSchema = z.object({
  redis: z.object({
    url: redisUrl.default('redis://127.0.0.1:6379'),
    /** Every key and queue lives under it. */
    prefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 letters, digits, _ or -').default('leadrelay'),
    /** Redis Cluster seed nodes, instead of `url`. */
    cluster: z.array(redisUrl).min(1).optional(),
  }).strict().default({ url: 'redis://127.0.0.1:6379', prefix: 'leadrelay' }),
  intake: z.object({
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(8080),
    apiKeys: z.array(z.string().min(16, 'must be at least 16 characters')).min(1, 'needs at least one key'),
    maxBodyBytes: z.number().int().min(1024).max(10_485_760).default(65_536),
    /** Identical id-less leads inside it are one lead. */
    dedupeWindow: zDuration().default(86_400_000),
  }).strict(),
  ops: z.object({
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(3000),
    username: z.string().min(1).default('ops'),
    /** Required to start the ops server. */
    password: z.string().min(8, 'must be at least 8 characters').optional(),
  }).strict().default({ host: '0.0.0.0', port: 3000, username: 'ops' }),
  worker: z.object({
    host: z.string().default('0.0.0.0'),
    metricsPort: z.number().int().min(0).max(65535).default(9464),
    /** On SIGTERM, how long active deliveries may take to finish before they are released. */
    shutdownTimeout: zDuration().default(30_000),
    /** How long a worker that stopped answering (crash, SIGKILL) holds its active deliveries before another worker takes them. */
    lockDuration: zDuration().default(30_000),
  }).strict().default({ host: '0.0.0.0', metricsPort: 9464, shutdownTimeout: 30_000, lockDuration: 30_000 }),
  retry: retrySchema.default({ attempts: 12, initialDelay: 10_000, maxDelay: 7_200_000, maxThrottleWait: 86_400_000 }),
  defaults: z.object({
    /** Fills CRM-required fields a lead lacks (last name, company). */
    placeholder: z.string().min(1).default('[not provided]'),
  }).strict().default({ placeholder: '[not provided]' }),
  leads: z.object({
    /** How long lead status and attempt timelines are kept. */
    retention: zDuration().default(2_592_000_000),
  }).strict().default({ retention: 2_592_000_000 }),
  alerts: z.object({
    /** Standard Webhooks–signed POST for each alert, when set. */
    webhookUrl: zHttpUrl().optional(),
    signingSecret: z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/, "must be 'whsec_' followed by base64").optional(),
    /** Alert when a destination's oldest waiting lead has waited longer than this. */
    queueWaitThreshold: zDuration().default(900_000),
  }).strict().default({ queueWaitThreshold: 900_000 }),
  destinations: z.array(destinationSchema).min(1, 'needs at least one destination'),
}).strict().superRefine((c, ctx) => {
  const seen = new Map<string, number>();
  c.destinations.forEach((d, i) => {
    if (seen.has(d.id)) ctx.addIssue({ code: 'custom', path: ['destinations', i, 'id'], message: `duplicate destination id '${d.id}' (first at destinations[${seen.get(d.id)}])` });
    else seen.set(d.id, i);
  });
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type DestinationConfig = ParsedConfig['destinations'][number];
