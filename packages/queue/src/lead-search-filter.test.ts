import { describe, expect, it } from 'vitest';
import { InvalidLeadSearchError } from './lead-index.js';
import { leadSearchFilterFrom } from './lead-search-filter.js';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const read = (input: Record<string, string>) => leadSearchFilterFrom(input, ['crm', 'hook'], NOW);
const fieldOf = (input: Record<string, string>): string => {
  try {
    read(input);
  } catch (e) {
    if (e instanceof InvalidLeadSearchError) return `${e.field}: ${e.message.slice(e.field.length + 2)}`;
    throw e;
  }
  return 'accepted';
};

describe('leadSearchFilterFrom (leadrelay leads, GET /api/leads and the dashboard search read a search the same way)', () => {
  it('reads each field: since as a duration ago or an ISO time, limit as a number, empty values as absent', () => {
    expect(read({ email: 'Ada@Contoso.com', since: '1d', state: 'dead', destination: 'crm', limit: '20', cursor: 'c1', offer: '' }))
      .toEqual({ email: 'Ada@Contoso.com', since: NOW - 86_400_000, state: 'dead', destination: 'crm', limit: 20, cursor: 'c1' });
    expect(read({ offer: 'contoso.*', since: '2026-12-01T00:00:00Z' })).toEqual({ offer: 'contoso.*', since: Date.parse('2026-12-01T00:00:00Z') });
  });

  it('names the field that cannot be read', () => {
    expect(fieldOf({})).toBe('filter: give an email, an offer or since');
    expect(fieldOf({ since: 'yesterday' })).toMatch(/^since: /);
    expect(fieldOf({ email: 'a@b.c', state: 'lost' })).toMatch(/^state: 'lost' is not one of queued, retrying/);
    expect(fieldOf({ email: 'a@b.c', destination: 'nope' })).toBe("destination: there is no destination 'nope'");
    for (const limit of ['0', '1001', '2.5', 'ten']) expect(fieldOf({ email: 'a@b.c', limit })).toMatch(/^limit: .* must be a whole number from 1 to 1000$/);
  });
});
