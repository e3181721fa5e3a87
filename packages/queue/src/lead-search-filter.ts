import type { DeliveryState } from './delivery-state.js';
import { deadLetterFilterFrom, InvalidDeadLetterFilterError } from './dead-letter-filter.js';
import { InvalidLeadSearchError, type LeadSearchFilter } from './lead-index.js';

/** The delivery states a lead search may narrow by. */
export const LEAD_SEARCH_STATES: readonly DeliveryState[] = ['queued', 'retrying', 'delayed', 'delivered', 'dead', 'skipped', 'paused'];

/** A search as a person or a script gives it: CLI flags or query parameters, all text. */
export interface LeadSearchInput {
  email?: string;
  offer?: string;
  since?: string;
  state?: string;
  destination?: string;
  limit?: string;
  cursor?: string;
}

/**
 * Reads a lead search (`leadrelay leads`, `GET /api/leads`, the dashboard's search) into a filter: `since` a duration
 * ago (`1d`) or an ISO time, `state` one of LEAD_SEARCH_STATES, `limit` 1–1000, `destination` one of `destinations`,
 * and at least one of email, offer, since. Throws InvalidLeadSearchError naming the field (`filter` when none is given).
 */
export function leadSearchFilterFrom(input: LeadSearchInput, destinations: readonly string[], now = Date.now()): LeadSearchFilter {
  const given = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);
  let since: number | undefined;
  try {
    since = deadLetterFilterFrom({ since: given(input.since) }, now).since;
  } catch (e) {
    if (e instanceof InvalidDeadLetterFilterError) throw new InvalidLeadSearchError('since', e.message.slice(e.field.length + 2));
    throw e;
  }
  const state = given(input.state);
  if (state !== undefined && !LEAD_SEARCH_STATES.includes(state as DeliveryState)) throw new InvalidLeadSearchError('state', `'${state}' is not one of ${LEAD_SEARCH_STATES.join(', ')}`);
  const destination = given(input.destination);
  if (destination !== undefined && !destinations.includes(destination)) throw new InvalidLeadSearchError('destination', `there is no destination '${destination}'`);
  const limitText = given(input.limit);
  const limit = limitText === undefined ? undefined : Number(limitText);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) throw new InvalidLeadSearchError('limit', `'${limitText}' must be a whole number from 1 to 1000`);
  const email = given(input.email);
  const offer = given(input.offer);
  if (email === undefined && offer === undefined && since === undefined) throw new InvalidLeadSearchError('filter', 'give an email, an offer or since');
  const cursor = given(input.cursor);
  return {
    ...(email !== undefined ? { email } : {}), ...(offer !== undefined ? { offer } : {}), ...(since !== undefined ? { since } : {}),
    ...(state !== undefined ? { state: state as DeliveryState } : {}), ...(destination !== undefined ? { destination } : {}),
    ...(limit !== undefined ? { limit } : {}), ...(cursor !== undefined ? { cursor } : {}),
  };
}
