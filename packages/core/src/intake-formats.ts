import { z } from 'zod';
import { CUSTOMER_FIELDS, isTestLead, parseLeadSource, type CustomerInfo, type Lead } from './lead.js';
import { contentLeadId, LEAD_ID_PATTERN } from './lead-id.js';

/** The three body formats intake accepts (README: Intake HTTP API). */
export type IntakeFormat = 'canonical' | 'marketplace' | 'form';

export interface FieldProblem {
  /** JSON-pointer-like path into the body, e.g. `customer.email`. */
  path: string;
  message: string;
}

/** Something intake changed so that a lead could be accepted: a default filled in, a value truncated. */
export type LeadWarning = FieldProblem;

export type ParseResult =
  | { ok: true; format: IntakeFormat; lead: Lead; clientId: boolean; warnings: LeadWarning[] }
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

/** An object's properties by lower-cased name, the first of each name in property order (Microsoft's samples disagree on casing). */
type CaselessProps = Map<string, unknown>;

function caseless(o: Record<string, unknown>): CaselessProps {
  const props: CaselessProps = new Map();
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    const lower = k.toLowerCase();
    if (!props.has(lower)) props.set(lower, o[k]);
  }
  return props;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isMarketplace(props: CaselessProps): boolean {
  return props.get('userdetails') !== undefined || props.get('actioncode') !== undefined;
}

/** A JSON body is Microsoft's when it carries `UserDetails` or `ActionCode` in any casing. */
export function detectJsonFormat(body: unknown): 'canonical' | 'marketplace' {
  return isPlainObject(body) && isMarketplace(caseless(body)) ? 'marketplace' : 'canonical';
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

/** The canonical format's strict reading: fills source/action/offer from `leadSource`, checks they exist and fit, derives id and test flag. */
function finish(format: 'canonical', draft: Draft, ctx: ParseContext, leadSourcePath: string): ParseResult {
  let { source, action, offer } = draft;
  // Where each part came from, so a problem names what the client sent (own fields were checked by the schema).
  const origin: Partial<Record<keyof typeof PART_LIMITS, string>> = {};
  if (draft.leadSource !== undefined) {
    const parsed = parseLeadSource(draft.leadSource);
    if (parsed) {
      if (source === undefined) { source = parsed.source; origin.source = leadSourcePath; }
      if (action === undefined) { action = parsed.action; origin.action = leadSourcePath; }
      if (offer === undefined) { offer = parsed.offer; origin.offer = leadSourcePath; }
    } else {
      return { ok: false, format, errors: [{ path: leadSourcePath, message: "must have the form 'Source-Action|Offer'" }] };
    }
  }
  if (offer === undefined && typeof ctx.query?.offer === 'string' && ctx.query.offer.trim() !== '') {
    offer = ctx.query.offer.trim();
    origin.offer = '?offer';
  }
  const errors: FieldProblem[] = [];
  if (!source) errors.push({ path: 'source', message: 'is required (or give leadSource "Source-Action|Offer")' });
  if (!action) errors.push({ path: 'action', message: 'is required' });
  if (!offer) errors.push({ path: 'offer', message: 'is required' });
  // The same limits as the fields themselves: a long part must not get in through `Source-Action|Offer` or the query.
  const parts = { source, action, offer };
  for (const k of ['source', 'action', 'offer'] as const) {
    const max = PART_LIMITS[k];
    if (parts[k] !== undefined && codePoints(parts[k]) > max) errors.push({ path: origin[k] ?? k, message: `${k} must be at most ${max} characters` });
  }
  if (errors.length > 0) return { ok: false, format, errors };
  return build(format, { source: source!, action: action!, offer: offer! }, draft, ctx, []);
}

function definedOnly<T extends object>(o: T): T {
  const out: Partial<T> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out as T;
}

/**
 * The lead from its parts: id (the client's or from the content), createdAt, test flag. Properties are
 * set one by one in the lead's order (object spreads of optional parts are a slow path on every request).
 */
function build(format: IntakeFormat, parts: { source: string; action: string; offer: string }, draft: Draft, ctx: ParseContext, warnings: LeadWarning[]): ParseResult {
  const base = { source: parts.source, action: parts.action, offer: parts.offer } as Omit<Lead, 'id' | 'createdAt' | 'testLead'>;
  if (draft.offerTitle) base.offerTitle = draft.offerTitle;
  base.customer = definedOnly(draft.customer);
  if (draft.description) base.description = draft.description;
  if (draft.extra) base.extra = draft.extra;
  const id = draft.id ?? contentLeadId(draft.createdAt === undefined ? base : { ...base, createdAt: draft.createdAt });
  const lead = { id } as Lead;
  Object.assign(lead, base);
  lead.createdAt = draft.createdAt ? new Date(draft.createdAt).toISOString() : (ctx.now ?? new Date()).toISOString();
  lead.testLead = isTestLead(base);
  return { ok: true, format, clientId: draft.id !== undefined, lead, warnings };
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

/** Longest value of each Microsoft property we keep, in code points; longer values are truncated, not refused. */
const MARKETPLACE_LIMITS = { ActionCode: 64, OfferTitle: 512, Description: 32_768, OfferId: 256, Offer: 256 } as const;
const USER_LIMITS = { FirstName: 256, LastName: 256, Email: 320, Phone: 256, Country: 256, Company: 256, Title: 256 } as const;
const TOP_PROPERTIES = ['LeadSource', ...(Object.keys(MARKETPLACE_LIMITS) as (keyof typeof MARKETPLACE_LIMITS)[])] as const;
const USER_PROPERTIES = Object.keys(USER_LIMITS) as (keyof typeof USER_LIMITS)[];
const USER_PATHS = Object.fromEntries(USER_PROPERTIES.map((k) => [k, `UserDetails.${k}`])) as Record<keyof typeof USER_LIMITS, string>;

/**
 * The action Microsoft's lead sources imply when a lead carries no `ActionCode`: the Azure portal only
 * produces `Create`, a test drive `StartTestDrive`, and Azure Marketplace leads are installations
 * (Microsoft's own sample pairs AzureMarketplace with INS). AppSource (SPZA) sends INS, PLT or DNC
 * ("do not contact"), so it implies nothing: a guess there could contact someone who asked not to be.
 */
// A Map, not an object literal: a source named `constructor` must not find Object.prototype's.
const ACTION_BY_SOURCE: ReadonlyMap<string, string> = new Map([['azuremarketplace', 'INS'], ['azureportal', 'Create'], ['testdrive', 'StartTestDrive']]);

/** The value when what Microsoft sent says nothing (no offer id, no action, no source). */
export const UNKNOWN_PART = 'unknown';

/** Truncates to `max` code points (never splitting a surrogate pair), recording a warning when it cut. */
function fit(value: string, max: number, path: string, warnings: LeadWarning[]): string {
  // A string never has more code points than UTF-16 units: most values need no counting.
  if (value.length <= max) return value;
  const points = [...value];
  if (points.length <= max) return value;
  warnings.push({ path, message: `was ${points.length} characters; truncated to ${max}` });
  return points.slice(0, max).join('').trim();
}

/**
 * Reads one string property of Microsoft's JSON: null, missing and blank are absent; a string is trimmed;
 * anything else (a number, boolean, object, array) is not what Microsoft sends and is refused.
 */
function readString(o: CaselessProps, name: string, path: string, errors: FieldProblem[]): string | undefined {
  const v = o.get(name.toLowerCase());
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    errors.push({ path, message: `must be a string (got ${Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`})` });
    return undefined;
  }
  const t = v.trim();
  return t === '' ? undefined : t;
}

/**
 * Microsoft's HTTPS-endpoint JSON; property names match case-insensitively; unknown properties are ignored.
 * Microsoft never resends a lead that was refused, so whatever can become a lead does: an over-long value is
 * truncated, a missing action, offer or source gets a default, each with a warning kept with the lead. Only
 * what is not a Microsoft lead is refused: a property of the wrong JSON type, a `UserDetails` that is not an
 * object, an `Id` (ours, not Microsoft's) that is not a lead id.
 */
export function parseMarketplace(body: unknown, ctx: ParseContext = {}): ParseResult {
  if (!isPlainObject(body)) return { ok: false, format: 'marketplace', errors: [{ path: '', message: 'body must be a JSON object' }] };
  return parseMarketplaceProps(caseless(body), ctx);
}

function parseMarketplaceProps(body: CaselessProps, ctx: ParseContext): ParseResult {
  const errors: FieldProblem[] = [];
  const warnings: LeadWarning[] = [];
  const userDetails = body.get('userdetails') ?? {};
  if (!isPlainObject(userDetails) && userDetails !== null) errors.push({ path: 'UserDetails', message: 'must be an object' });
  const user: CaselessProps = isPlainObject(userDetails) ? caseless(userDetails) : new Map();
  const top: Partial<Record<(typeof TOP_PROPERTIES)[number], string>> = {};
  for (const k of TOP_PROPERTIES) top[k] = readString(body, k, k, errors);
  const customer: Partial<Record<keyof typeof USER_LIMITS, string>> = {};
  for (const k of USER_PROPERTIES) {
    const path = USER_PATHS[k];
    const v = readString(user, k, path, errors);
    customer[k] = v === undefined ? undefined : fit(v, USER_LIMITS[k], path, warnings);
  }
  const rawId = body.get('id');
  if (rawId !== undefined && (typeof rawId !== 'string' || !LEAD_ID_PATTERN.test(rawId))) errors.push({ path: 'Id', message: 'must match ^[A-Za-z0-9._-]{1,128}$' });
  if (errors.length > 0) return { ok: false, format: 'marketplace', errors };

  const limited = <K extends keyof typeof MARKETPLACE_LIMITS>(k: K) => (top[k] === undefined ? undefined : fit(top[k], MARKETPLACE_LIMITS[k], k, warnings));
  const offerTitle = limited('OfferTitle');
  const description = limited('Description');
  // LeadSource is just the source in this format, or `Source-Action|Offer` as in Microsoft's CRM fields.
  const parsed = top.LeadSource === undefined ? undefined : parseLeadSource(top.LeadSource);
  let source: string;
  if (parsed) source = fit(parsed.source, PART_LIMITS.source, 'LeadSource', warnings);
  else if (top.LeadSource !== undefined) source = fit(top.LeadSource, PART_LIMITS.source, 'LeadSource', warnings);
  else {
    source = UNKNOWN_PART;
    warnings.push({ path: 'LeadSource', message: `is missing; the source is '${UNKNOWN_PART}'` });
  }

  let action = limited('ActionCode') ?? (parsed ? fit(parsed.action, PART_LIMITS.action, 'LeadSource', warnings) : undefined);
  if (action === undefined) {
    action = ACTION_BY_SOURCE.get(source.toLowerCase()) ?? UNKNOWN_PART;
    warnings.push({ path: 'ActionCode', message: action === UNKNOWN_PART
      ? `is missing and LeadSource '${source}' implies no action; the action is '${UNKNOWN_PART}'`
      : `is missing; the action is '${action}', as LeadSource '${source}' implies` });
  }

  const queryOffer = typeof ctx.query?.offer === 'string' && ctx.query.offer.trim() !== '' ? ctx.query.offer.trim() : undefined;
  let offer: string;
  const own = top.OfferId !== undefined ? 'OfferId' : top.Offer !== undefined ? 'Offer' : undefined;
  if (own) offer = fit(top[own]!, PART_LIMITS.offer, own, warnings);
  else if (parsed) offer = fit(parsed.offer, PART_LIMITS.offer, 'LeadSource', warnings);
  else if (queryOffer) offer = fit(queryOffer, PART_LIMITS.offer, '?offer', warnings);
  else if (offerTitle) {
    offer = fit(offerTitle, PART_LIMITS.offer, 'OfferTitle', warnings);
    warnings.push({ path: 'OfferTitle', message: 'used as the offer: the lead names no offer id (add ?offer=<publisher.offer> to the endpoint URL to set one)' });
  } else {
    offer = UNKNOWN_PART;
    warnings.push({ path: 'OfferTitle', message: `the lead names no offer (no offer id, no OfferTitle); the offer is '${UNKNOWN_PART}'` });
  }

  const c = customer;
  return build('marketplace', { source, action, offer }, {
    ...(typeof rawId === 'string' ? { id: rawId } : {}), offerTitle, description,
    customer: { firstName: c.FirstName, lastName: c.LastName, email: c.Email, phone: c.Phone, country: c.Country, company: c.Company, title: c.Title },
  }, ctx, warnings);
}

/** Longest value of each Web-to-Lead form field we keep, in code points; longer values are truncated, not refused. */
const FORM_LIMITS = {
  first_name: 256, last_name: 256, email: 320, phone: 256, country: 256, company: 256, title: 256, description: 32_768,
} as const;
const FORM_LEAD_FIELDS = [...Object.keys(FORM_LIMITS), 'lead_source'];

/**
 * Web-to-Lead form fields, as Microsoft's Salesforce connector posts them. Repeated fields (Microsoft's test lead
 * repeats `encoding`) keep their first value; Salesforce-only fields (`oid`, `encoding`, `retURL`, `debug`…) are
 * ignored. Lenient like Microsoft's JSON (`parseMarketplace`), because Microsoft never resends a refused lead: an
 * over-long value is truncated and a missing or partial `lead_source` gets defaults, each with a warning kept with
 * the lead. Only what is not a lead is refused: a body that is not form fields, a form with none of the lead
 * fields, and an `id` (ours, not Microsoft's) that is not a lead id.
 */
export function parseForm(body: unknown, ctx: ParseContext = {}): ParseResult {
  if (!isPlainObject(body)) return { ok: false, format: 'form', errors: [{ path: '', message: 'body must be form fields' }] };
  const flat = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
  const errors: FieldProblem[] = [];
  const warnings: LeadWarning[] = [];
  const read = (name: string): string | undefined => {
    const v = flat[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') {
      errors.push({ path: name, message: 'must be text' });
      return undefined;
    }
    const t = v.trim();
    return t === '' ? undefined : t;
  };
  if (!FORM_LEAD_FIELDS.some((k) => flat[k] !== undefined)) {
    errors.push({ path: '', message: `is no Web-to-Lead lead: none of the fields ${FORM_LEAD_FIELDS.join(', ')}` });
  }
  const rawId = flat.id;
  if (rawId !== undefined && (typeof rawId !== 'string' || !LEAD_ID_PATTERN.test(rawId))) errors.push({ path: 'id', message: 'must match ^[A-Za-z0-9._-]{1,128}$' });
  const values = Object.fromEntries((Object.keys(FORM_LIMITS) as (keyof typeof FORM_LIMITS)[]).map((k) => {
    const v = read(k);
    return [k, v === undefined ? undefined : fit(v, FORM_LIMITS[k], k, warnings)];
  })) as Partial<Record<keyof typeof FORM_LIMITS, string>>;
  const leadSource = read('lead_source');
  if (errors.length > 0) return { ok: false, format: 'form', errors };

  const parsed = leadSource === undefined ? undefined : parseLeadSource(leadSource);
  let source: string;
  let action: string | undefined;
  let offer: string | undefined;
  if (parsed) {
    source = fit(parsed.source, PART_LIMITS.source, 'lead_source', warnings);
    action = fit(parsed.action, PART_LIMITS.action, 'lead_source', warnings);
    offer = fit(parsed.offer, PART_LIMITS.offer, 'lead_source', warnings);
  } else if (leadSource !== undefined) {
    source = fit(leadSource, PART_LIMITS.source, 'lead_source', warnings);
    warnings.push({ path: 'lead_source', message: "is not of the form 'Source-Action|Offer'; taken as the source" });
  } else {
    source = UNKNOWN_PART;
    warnings.push({ path: 'lead_source', message: `is missing; the source is '${UNKNOWN_PART}'` });
  }
  if (action === undefined) {
    action = ACTION_BY_SOURCE.get(source.toLowerCase()) ?? UNKNOWN_PART;
    warnings.push({ path: 'lead_source', message: action === UNKNOWN_PART
      ? `names no action and the source '${source}' implies none; the action is '${UNKNOWN_PART}'`
      : `names no action; the action is '${action}', as the source '${source}' implies` });
  }
  if (offer === undefined) {
    const queryOffer = typeof ctx.query?.offer === 'string' && ctx.query.offer.trim() !== '' ? ctx.query.offer.trim() : undefined;
    if (queryOffer) offer = fit(queryOffer, PART_LIMITS.offer, '?offer', warnings);
    else {
      offer = UNKNOWN_PART;
      warnings.push({ path: 'lead_source', message: `names no offer; the offer is '${UNKNOWN_PART}' (add ?offer=<publisher.offer> to the endpoint URL to set one)` });
    }
  }

  const v = values;
  return build('form', { source, action, offer }, {
    ...(typeof rawId === 'string' ? { id: rawId } : {}), description: v.description,
    customer: { firstName: v.first_name, lastName: v.last_name, email: v.email, phone: v.phone, country: v.country, company: v.company, title: v.title },
  }, ctx, warnings);
}

/** Parses a JSON body in whichever of the two JSON formats it is. */
export function parseJsonLead(body: unknown, ctx: ParseContext = {}): ParseResult {
  const props = isPlainObject(body) ? caseless(body) : undefined;
  return props && isMarketplace(props) ? parseMarketplaceProps(props, ctx) : parseCanonical(body, ctx);
}
