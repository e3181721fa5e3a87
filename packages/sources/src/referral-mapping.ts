import { createHash } from 'node:crypto';
import { LEAD_ID_PATTERN, parseCanonical, type Lead } from '@leadrelay/core';

/** The fields of a Partner Center referral a lead is made from (every one may be missing). */
export interface ReferralRecord {
  id: string;
  engagementId?: string;
  name?: string;
  externalReferenceId?: string;
  createdDateTime?: string;
  updatedDateTime?: string;
  status?: string;
  substatus?: string;
  type?: string;
  qualification?: string;
  direction?: string;
  referralSource?: string;
  callToAction?: string;
  customerProfile?: {
    name?: string;
    address?: { country?: string };
    team?: { firstName?: string; lastName?: string; email?: string; phoneNumber?: string; title?: string }[];
  };
  details?: {
    notes?: string;
    customerAction?: string;
    requirements?: { solutions?: { id?: string; name?: string; publisherName?: string }[] };
  };
  inviteContext?: { notes?: string; invitedBy?: { organizationId?: string | null } };
  eTag?: string;
}

/** Which referrals a source takes (absent lists take every value). */
export interface ReferralFilter {
  types?: string[];
  qualifications?: string[];
  directions: string[];
  statuses?: string[];
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/** A lead id from Microsoft's referral id when it is a valid id (it is a GUID), else a stable hash of it. */
export function referralLeadId(referralId: string): string {
  return LEAD_ID_PATTERN.test(referralId) ? referralId : `ref-${createHash('sha256').update(referralId).digest('hex').slice(0, 40)}`;
}

/** Whether the source's `filter` takes this referral. */
export function referralWanted(r: ReferralRecord, f: ReferralFilter): boolean {
  const has = (list: string[] | undefined, v: string | undefined) => !list || (v !== undefined && list.includes(v));
  return has(f.types, r.type) && has(f.qualifications, r.qualification) && has(f.directions, r.direction) && has(f.statuses, r.status);
}

/**
 * The canonical lead of a referral. The first team member is the customer contact; the offer is the
 * first solution (`publisherName.id` when both are known) and the action the call to action or the
 * customer action, since Microsoft documents neither field's values (a referral without them gets
 * `Referral` / `unknown` rather than being dropped). The referral and engagement ids stay in `extra`.
 */
export function referralToLead(r: ReferralRecord): { ok: true; lead: Lead } | { ok: false; problem: string } {
  const contact = r.customerProfile?.team?.[0] ?? {};
  const solution = r.details?.requirements?.solutions?.[0];
  const publisher = text(solution?.publisherName);
  const solutionId = text(solution?.id);
  const offer = solutionId ? (publisher && !solutionId.includes('.') ? `${publisher}.${solutionId}` : solutionId) : 'unknown';
  const notes = [text(r.details?.notes), text(r.inviteContext?.notes)].filter(Boolean).join('\n\n');
  const body = {
    id: referralLeadId(r.id),
    source: text(r.referralSource) ?? 'Referral',
    action: text(r.callToAction) ?? text(r.details?.customerAction) ?? 'unknown',
    offer,
    offerTitle: text(solution?.name) ?? text(r.name),
    customer: Object.fromEntries(Object.entries({
      firstName: text(contact.firstName), lastName: text(contact.lastName), email: text(contact.email), phone: text(contact.phoneNumber),
      title: text(contact.title), company: text(r.customerProfile?.name), country: text(r.customerProfile?.address?.country),
    }).filter(([, v]) => v !== undefined)),
    ...(notes ? { description: notes } : {}),
    ...(text(r.createdDateTime) && !Number.isNaN(Date.parse(r.createdDateTime!)) ? { createdAt: new Date(r.createdDateTime!).toISOString() } : {}),
    extra: {
      referralId: r.id.slice(0, 4096),
      ...(text(r.engagementId) ? { engagementId: r.engagementId!.slice(0, 4096) } : {}),
      ...(text(r.type) ? { referralType: r.type! } : {}),
      ...(text(r.qualification) ? { referralQualification: r.qualification! } : {}),
    },
  };
  const parsed = parseCanonical(body, body.createdAt ? {} : { now: r.updatedDateTime ? new Date(r.updatedDateTime) : new Date() });
  if (!parsed.ok) return { ok: false, problem: parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
  return { ok: true, lead: parsed.lead };
}
