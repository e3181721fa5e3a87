import { describe, expect, it } from 'vitest';
import { PayloadValidationError, type Lead } from '@leadrelay/core';
import { defaultMarketoRecord, mapLeadToMarketo, prepareMarketoRecord, toAsciiEmail } from './marketo-mapping.js';

const base: Lead = {
  id: 'lead-1', source: 'SPZA', action: 'PLT', offer: 'contoso.crm-addon', offerTitle: 'CRM Add-on',
  customer: { firstName: 'Grace', lastName: 'Hopper', email: 'grace@contoso.example', phone: '555', country: 'US', company: 'Navy', title: 'RADM' },
  description: 'x', createdAt: '2024-05-01T00:00:00.000Z', testLead: false,
};

describe('Marketo default mapping', () => {
  it('maps the seven customer fields and leadSource = Source-Action|Offer', () => {
    expect(defaultMarketoRecord(base)).toEqual({
      firstName: 'Grace', lastName: 'Hopper', email: 'grace@contoso.example', phone: '555', country: 'US', company: 'Navy', title: 'RADM',
      leadSource: 'SPZA-PLT|contoso.crm-addon',
    });
  });

  it('leaves missing and blank values out (an upsert must not wipe known data), no placeholders', () => {
    const lead = { ...base, customer: { email: 'a@b.example', lastName: ' ' } };
    expect(defaultMarketoRecord(lead)).toEqual({ email: 'a@b.example', leadSource: 'SPZA-PLT|contoso.crm-addon' });
  });

  it('fields: override and extend, keeping literal types', () => {
    const r = mapLeadToMarketo(base, { leadSource: 'Marketplace', marketplaceOffer__c: '{{offerTitle}} ({{offer}})', leadScore: 5, optIn: true });
    expect(r).toMatchObject({ leadSource: 'Marketplace', marketplaceOffer__c: 'CRM Add-on (contoso.crm-addon)', leadScore: 5, optIn: true });
  });

  it('a fields: override rendering empty removes the default', () => {
    expect(mapLeadToMarketo(base, { title: '{{extra.none}}' })).not.toHaveProperty('title');
  });
});

describe('ASCII emails', () => {
  it('passes ASCII through, converts IDN domains, refuses non-ASCII local parts', () => {
    expect(toAsciiEmail('a@b.example')).toEqual({ ok: true, email: 'a@b.example' });
    expect(toAsciiEmail('info@münchen.de')).toEqual({ ok: true, email: 'info@xn--mnchen-3ya.de' });
    expect(toAsciiEmail('josé@contoso.example').ok).toBe(false);
    expect(toAsciiEmail('not-an-émail').ok).toBe(false);
  });
});

describe('prepareMarketoRecord', () => {
  it('requires the key field and explains how to fix it', () => {
    const r = prepareMarketoRecord({ ...base, customer: { firstName: 'X' } }, { keyField: 'email', destinationId: 'mkto' });
    expect(r.ok).toBe(false);
    const err = (r as { error: PayloadValidationError }).error;
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.remediation).toContain('leadrelay dlq replay --destination mkto --id lead-1');
  });

  it('accepts a key supplied through fields:', () => {
    const r = prepareMarketoRecord({ ...base, customer: {} }, { keyField: 'email', destinationId: 'mkto', fields: { email: '{{id}}@leads.contoso.example' } });
    expect(r).toMatchObject({ ok: true, record: { email: 'lead-1@leads.contoso.example' } });
  });
});
