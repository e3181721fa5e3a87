import { describe, expect, it } from 'vitest';
import { LEAD_ID_NAMESPACE, leadRecordId, uuidV5 } from './lead-record-id.js';

describe('leadRecordId (UUID v5, SPEC §5)', () => {
  it('matches RFC 9562 / the uuid package', () => {
    // Values produced by `uuid@11` v5(); the DNS one is the RFC's own example.
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    expect(uuidV5('lead-123', LEAD_ID_NAMESPACE)).toBe('558ab3ec-782f-57bc-9900-1d3e0c4a53c9');
    expect(leadRecordId('MSFT_TEST_636573304831318844')).toBe('7e26b382-87a7-5dcc-a990-11f2b5c42361');
    expect(leadRecordId('h0123456789abcdef0123456789abcdef')).toBe('6f528bc7-eb02-5d04-89e2-218b6391995b');
  });

  it('is stable per lead id and different across ids', () => {
    expect(leadRecordId('a')).toBe(leadRecordId('a'));
    expect(leadRecordId('a')).not.toBe(leadRecordId('b'));
    expect(leadRecordId('a')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('rejects a malformed namespace', () => {
    expect(() => uuidV5('x', 'not-a-uuid')).toThrow(/not a UUID/);
  });
});
