import type { Lead } from '@leadrelay/core';
import type { ResolvedDestination } from './load-config.js';

/** Compiled once per glob: matching runs on every accepted lead. */
const compiled = new Map<string, RegExp>();

/** A `match.offers`-style glob (`*` any run, `?` one character, case-insensitive) as a RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = compiled.get(glob);
  if (!re) {
    const body = glob.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
    re = new RegExp(`^${body}$`, 'i');
    compiled.set(glob, re);
  }
  return re;
}

/** Whether a destination's `match` (and `enabled`) takes this lead (docs/configuration.md → Every destination, `match`). */
export function destinationMatches(d: Pick<ResolvedDestination, 'enabled' | 'match'>, lead: Lead): boolean {
  if (!d.enabled) return false;
  const m = d.match;
  if (lead.testLead && !m.testLeads) return false;
  if (m.actions && !m.actions.some((a) => a.toLowerCase() === lead.action.toLowerCase())) return false;
  if (m.sources && !m.sources.some((s) => s.toLowerCase() === lead.source.toLowerCase())) return false;
  if (m.offers && !m.offers.some((g) => globToRegExp(g).test(lead.offer))) return false;
  return true;
}
