import type { Lead } from '@leadrelay/core';
import type { ResolvedDestination } from './load-config.js';

function globToRegExp(glob: string): RegExp {
  const body = glob.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'i');
}

/** Whether a destination's `match` (and `enabled`) takes this lead (SPEC §2). */
export function destinationMatches(d: Pick<ResolvedDestination, 'enabled' | 'match'>, lead: Lead): boolean {
  if (!d.enabled) return false;
  const m = d.match;
  if (lead.testLead && !m.testLeads) return false;
  if (m.actions && !m.actions.some((a) => a.toLowerCase() === lead.action.toLowerCase())) return false;
  if (m.sources && !m.sources.some((s) => s.toLowerCase() === lead.source.toLowerCase())) return false;
  if (m.offers && !m.offers.some((g) => globToRegExp(g).test(lead.offer))) return false;
  return true;
}
