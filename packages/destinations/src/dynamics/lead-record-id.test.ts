import { describe, expect, it } from 'vitest';
import { leadRecordId } from './lead-record-id.js';

describe('leadRecordId (UUID v5 of the lead id)', () => {
  it('is the UUID v5 of the lead id in LeadRelay\'s namespace', () => {
    expect(leadRecordId('lead-123')).toBe('558ab3ec-782f-57bc-9900-1d3e0c4a53c9');
    expect(leadRecordId('MSFT_TEST_636573304831318844')).toBe('7e26b382-87a7-5dcc-a990-11f2b5c42361');
  });

  it('is stable per lead id and different across ids', () => {
    expect(leadRecordId('a')).toBe(leadRecordId('a'));
    expect(leadRecordId('a')).not.toBe(leadRecordId('b'));
    expect(leadRecordId('a')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
