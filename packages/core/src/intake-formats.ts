import { z } from 'zod';
import { CUSTOMER_FIELDS, isTestLead, parseLeadSource, type CustomerInfo, type Lead } from './lead.js';
import { contentLeadId, LEAD_ID_PATTERN } from './lead-id.js';

/** The three body formats intake accepts (SPEC §3). */
export type IntakeFormat = 'canonical' | 'marketplace' | 'form';

export interface FieldProblem {
  /** JSON-pointer-like path into the body, e.g. `customer.email`. */
  path: string;
  message: string;
}

export type ParseResult =
  | { ok: true; format: IntakeFormat; lead: Lead; clientId: boolean }
  | { ok: false; format: IntakeFormat; errors: FieldProblem[] };

export interface ParseContext {
  /** Query-string values: `offer` names the offer when Microsoft's JSON has none. */
  query?: Record<string, unknown>;
  now?: Date;
}

const text = (max: number) =>
  z.preprocess((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v),
    z.string().max(max, `must be at most ${max} characters`));
const optionalText = (max: number) => text(max).optional().nullable().transform((v) => (v == null || v.trim() === '' ? undefined : v.trim()));
const requiredText = (max: number) => text(max).transform((v) => v.trim()).pipe(z.string().min(1, 'must not be empty'));

const customerSchema = z.object(Object.fromEntries(CUSTOMER_FIELDS.map((f) => [f, optionalText(f === 'email' ? 320 : 256)])) as Record<(typeof CUSTOMER_FIELDS)[number], ReturnType<typeof optionalText>>).strict();

const extraValue = z.union([z.string().max(4096), z.number(), z.boolean(), z.null()]);

const canonicalSchema = z.object({
  id: z.string().regex(LEAD_ID_PATTERN, 'must match ^[A-Za-z0-9._-]{1,128}$').optional(),
  source: requiredText(128).optional(),
  action: requiredText(64).optional(),
  offer: requiredText(256).optional(),
  leadSource: requiredText(512).optional(),
  offerTitle: optionalText(512),
  customer: customerSchema.optional().transform((c) => c ?? {}),
  description: optionalText(32_768),
  createdAt: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time' }).optional(),
  extra: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'extra keys must be identifiers of at most 64 characters'), extraValue)
    .refine((o) => Object.keys(o).length <= 50, 'at most 50 extra keys').optional(),
}).strict();

/** Case-insensitive lookup of an object's property (Microsoft's samples disagree on casing). */
function pick(o: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON body is Microsoft's when it carries `UserDetails` or `ActionCode` in any casing. */
export function detectJsonFormat(body: unknown): 'canonical' | 'marketplace' {
  if (isPlainObject(body) && (pick(body, 'UserDetails') !== undefined || pick(body, 'ActionCode') !== undefined)) return 'marketplace';
  return 'canonical';
}

function zodProblems(error: z.ZodError, prefix = ''): FieldProblem[] {
  return error.issues.map((i) => {
    const keys = i.code === 'unrecognized_keys' ? i.keys : [];
    const path = [...i.path.map(String), ...(keys.length === 1 ? keys : [])].join('.');
    return { path: prefix + path, message: i.code === 'unrecognized_keys' ? `unknown property ${keys.map((k) => `'${k}'`).join(', ')}` : i.message };
  });
}

interface Draft {
  id?: string;
  source?: string;
  action?: string;
  offer?: string;
  leadSource?: string;
  offerTitle?: string;
  customer: CustomerInfo;
  description?: string;
  createdAt?: string;
  extra?: Lead['extra'];
}

/** Longest source, action and offer in code points (as zod's `max` counts), wherever they come from (their own field, `Source-Action|Offer`, `?offer=`). */
const PART_LIMITS = { source: 128, action: 64, offer: 256 } as const;

const codePoints = (s: string): number => [...s].length;

/** Fills source/action/offer from `leadSource`, checks they exist, derives id and test flag. */
function finish(format: IntakeFormat, draft: Draft, ctx: ParseContext, leadSourcePath: string): ParseResult {
  let { source, action, offer } = draft;
  // Where each part came from, so a problem names what the client sent (own fields were checked by the schema).
  const origin: Partial<Record<keyof typeof PART_LIMITS, string>> = {};
  if (draft.leadSource !== undefined) {
    const parsed = parseLeadSource(draft.leadSource);
    if (parsed) {
      if (source === undefined) { source = parsed.source; origin.source = leadSourcePath; }
      if (action === undefined) { action = parsed.action; origin.action = leadSourcePath; }
      if (offer === undefined) { offer = parsed.offer; origin.offer = leadSourcePath; }
    } else if (format === 'marketplace') {
      // Microsoft's HTTPS JSON sends only the source here
      if (source === undefined) { source = draft.leadSource; origin.source = leadSourcePath; }
    } else {
      return { ok: false, format, errors: [{ path: leadSourcePath, message: "must have the form 'Source-Action|Offer'" }] };
    }
  }
  if (offer === undefined && typeof ctx.query?.offer === 'string' && ctx.query.offer.trim() !== '') {
    offer = ctx.query.offer.trim();
    origin.offer = '?offer';
  }
  if (format === 'marketplace') offer ??= 'unknown';
  const errors: FieldProblem[] = [];
  if (!source) errors.push({ path: format === 'canonical' ? 'source' : leadSourcePath, message: 'is required (or give leadSource "Source-Action|Offer")' });
  if (!action) errors.push({ path: format === 'canonical' ? 'action' : format === 'marketplace' ? 'ActionCode' : leadSourcePath, message: 'is required' });
  if (!offer) errors.push({ path: format === 'canonical' ? 'offer' : leadSourcePath, message: 'is required' });
  // The same limits as the fields themselves: a long part must not get in through `Source-Action|Offer` or the query.
  const parts = { source, action, offer };
  for (const k of ['source', 'action', 'offer'] as const) {
    const max = PART_LIMITS[k];
    if (parts[k] !== undefined && codePoints(parts[k]) > max) errors.push({ path: origin[k] ?? k, message: `${k} must be at most ${max} characters` });
  }
  if (errors.length > 0) return { ok: false, format, errors };
  const base = {
    source: source!, action: action!, offer: offer!,
    ...(draft.offerTitle ? { offerTitle: draft.offerTitle } : {}),
    customer: Object.fromEntries(Object.entries(draft.customer).filter(([, v]) => v !== undefined)) as CustomerInfo,
    ...(draft.description ? { description: draft.description } : {}),
    ...(draft.extra ? { extra: draft.extra } : {}),
  };
  const id = draft.id ?? contentLeadId({ ...base, createdAt: draft.createdAt });
  const createdAt = draft.createdAt ? new Date(draft.createdAt).toISOString() : (ctx.now ?? new Date()).toISOString();
  return { ok: true, format, clientId: draft.id !== undefined, lead: { id, ...base, createdAt, testLead: isTestLead(base) } };
}

export function parseCanonical(body: unknown, ctx: ParseContext = {}): ParseResult {
  if (!isPlainObject(body)) return { ok: false, format: 'canonical', errors: [{ path: '', message: 'body must be a JSON object' }] };
  const r = canonicalSchema.safeParse(body);
  if (!r.success) {
    // Report a missing source/action/offer together with the other problems, not after they are fixed.
    const missing = body.leadSource === undefined
      ? (['source', 'action', 'offer'] as const).filter((k) => body[k] === undefined && !(k === 'offer' && typeof ctx.query?.offer === 'string'))
      : [];
    return { ok: false, format: 'canonical', errors: [...zodProblems(r.error), ...missing.map((path) => ({ path, message: 'is required (or give leadSource "Source-Action|Offer")' }))] };
  }
  return finish('canonical', r.data, ctx, 'leadSource');
}

const marketplaceSchema = z.object({
  FirstName: optionalText(256), LastName: optionalText(256), Email: optionalText(320), Phone: optionalText(256),
  Country: optionalText(256), Company: optionalText(256), Title: optionalText(256),
});
const marketplaceTop = z.object({
  LeadSource: optionalText(512), ActionCode: optionalText(64), OfferTitle: optionalText(512),
  Description: optionalText(32_768), OfferId: optionalText(256), Offer: optionalText(256), Id: z.string().regex(LEAD_ID_PATTERN, 'must match ^[A-Za-z0-9._-]{1,128}$').optional(),
});

/** Microsoft's HTTPS-endpoint JSON; property names match case-insensitively; unknown properties are ignored. */
export function parseMarketplace(body: unknown, ctx: ParseContext = {}): ParseResult {
  if (!isPlainObject(body)) return { ok: false, format: 'marketplace', errors: [{ path: '', message: 'body must be a JSON object' }] };
  const userDetails = pick(body, 'UserDetails') ?? {};
  if (!isPlainObject(userDetails)) return { ok: false, format: 'marketplace', errors: [{ path: 'UserDetails', message: 'must be an object' }] };
  const canon = (o: Record<string, unknown>, shape: object) =>
    Object.fromEntries(Object.keys(shape).map((k) => [k, pick(o, k)]).filter(([, v]) => v !== undefined));
  const top = marketplaceTop.safeParse(canon(body, marketplaceTop.shape));
  const user = marketplaceSchema.safeParse(canon(userDetails, marketplaceSchema.shape));
  const errors = [...(top.success ? [] : zodProblems(top.error)), ...(user.success ? [] : zodProblems(user.error, 'UserDetails.'))];
  if (!top.success || !user.success) return { ok: false, format: 'marketplace', errors };
  const u = user.data;
  const t = top.data;
  return finish('marketplace', {
    id: t.Id, leadSource: t.LeadSource, action: t.ActionCode, offer: t.OfferId ?? t.Offer, offerTitle: t.OfferTitle, description: t.Description,
    customer: { firstName: u.FirstName, lastName: u.LastName, email: u.Email, phone: u.Phone, country: u.Country, company: u.Company, title: u.Title },
  }, ctx, 'LeadSource');
}

const formSchema = z.object({
  first_name: optionalText(256), last_name: optionalText(256), email: optionalText(320), phone: optionalText(256),
  country: optionalText(256), company: optionalText(256), title: optionalText(256), description: optionalText(32_768),
  lead_source: requiredText(512), id: z.string().regex(LEAD_ID_PATTERN, 'must match ^[A-Za-z0-9._-]{1,128}$').optional(),
});

/**
 * Web-to-Lead form fields. Repeated fields (Microsoft's test lead repeats `encoding`) keep their first value;
 * Salesforce-only fields (`oid`, `encoding`, `retURL`, `debug`…) are ignored.
 */
export function parseForm(body: unknown, ctx: ParseContext = {}): ParseResult {
  if (!isPlainObject(body)) return { ok: false, format: 'form', errors: [{ path: '', message: 'body must be form fields' }] };
  const flat = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
  const r = formSchema.safeParse(flat);
  if (!r.success) return { ok: false, format: 'form', errors: zodProblems(r.error) };
  const f = r.data;
  return finish('form', {
    id: f.id, leadSource: f.lead_source, description: f.description,
    customer: { firstName: f.first_name, lastName: f.last_name, email: f.email, phone: f.phone, country: f.country, company: f.company, title: f.title },
  }, ctx, 'lead_source');
}

/** Parses a JSON body in whichever of the two JSON formats it is. */
export function parseJsonLead(body: unknown, ctx: ParseContext = {}): ParseResult {
  return detectJsonFormat(body) === 'marketplace' ? parseMarketplace(body, ctx) : parseCanonical(body, ctx);
}
