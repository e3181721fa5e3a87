import { describe, expect, it } from 'vitest';
import type { Lead } from '@leadrelay/core';
import { destinationMatches } from './match.js';

const lead = (over: Partial<Lead> = {}): Lead => ({
  id: 'lead-1',
  source: 'AzureMarketplace',
  action: 'INS',
  offer: 'contoso.analytics-pro',
  customer: { email: 'jane@fabrikam.example' },
  createdAt: '2025-01-01T00:00:00.000Z',
  testLead: false,
  ...over,
});

const dest = (match: Parameters<typeof destinationMatches>[0]['match'], enabled = true) => ({ enabled, match });

describe('destinationMatches', () => {
  it('takes every lead when match is empty, and none when disabled', () => {
    expect(destinationMatches(dest({ testLeads: true }), lead())).toBe(true);
    expect(destinationMatches(dest({ testLeads: true }, false), lead())).toBe(false);
  });

  it('filters test leads only when testLeads is false', () => {
    expect(destinationMatches(dest({ testLeads: true }), lead({ testLead: true }))).toBe(true);
    expect(destinationMatches(dest({ testLeads: false }), lead({ testLead: true }))).toBe(false);
    expect(destinationMatches(dest({ testLeads: false }), lead())).toBe(true);
  });

  it('matches actions and sources case-insensitively', () => {
    const m = dest({ testLeads: true, actions: ['ins', 'Create'], sources: ['azuremarketplace', 'SPZA'] });
    expect(destinationMatches(m, lead())).toBe(true);
    expect(destinationMatches(m, lead({ action: 'PLT' }))).toBe(false);
    expect(destinationMatches(m, lead({ source: 'AzurePortal', action: 'Create' }))).toBe(false);
    expect(destinationMatches(m, lead({ source: 'SPZA', action: 'CREATE' }))).toBe(true);
  });

  it('matches offers by glob: * any run, ? one character, everything else literal', () => {
    const m = (...offers: string[]) => dest({ testLeads: true, offers });
    expect(destinationMatches(m('contoso.*'), lead())).toBe(true);
    expect(destinationMatches(m('contoso.*'), lead({ offer: 'contosox.app' }))).toBe(false);
    expect(destinationMatches(m('*.analytics-pro'), lead())).toBe(true);
    expect(destinationMatches(m('contoso.analytics-pr?'), lead())).toBe(true);
    expect(destinationMatches(m('contoso.analytics-pr?'), lead({ offer: 'contoso.analytics-pr' }))).toBe(false);
    // `.` and `+` are literal, not regular-expression syntax.
    expect(destinationMatches(m('contoso.app+'), lead({ offer: 'contosoXapp+' }))).toBe(false);
    expect(destinationMatches(m('contoso.app+'), lead({ offer: 'contoso.app+' }))).toBe(true);
    expect(destinationMatches(m('fabrikam.*', 'CONTOSO.ANALYTICS-*'), lead())).toBe(true);
    // The glob covers the whole offer id.
    expect(destinationMatches(m('contoso'), lead())).toBe(false);
  });

  it('needs every given key to match', () => {
    const m = dest({ testLeads: true, actions: ['INS'], offers: ['fabrikam.*'] });
    expect(destinationMatches(m, lead())).toBe(false);
    expect(destinationMatches(m, lead({ offer: 'fabrikam.crm' }))).toBe(true);
  });
});
