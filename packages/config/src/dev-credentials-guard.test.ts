import { describe, expect, it } from 'vitest';
import { DevCredentialsExposedError, assertDevCredentialsStayLocal, isLoopbackHost } from './dev-credentials-guard.js';

describe('the bundled dev key and password stay on loopback', () => {
  it('refuses a non-loopback address with a dev secret and says why and what to do', () => {
    const run = () => assertDevCredentialsStayLocal('ops', '0.0.0.0', 'password', ['dev-password-change-me'], {});
    expect(run).toThrow(DevCredentialsExposedError);
    expect(run).toThrow(/refuses to listen on 0\.0\.0\.0 with the bundled dev password: it is published in the README.*OPS_PASSWORD.*--insecure-dev/);
  });

  it('allows loopback, own secrets, and --insecure-dev', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) {
      expect(isLoopbackHost(host)).toBe(true);
      expect(() => assertDevCredentialsStayLocal('intake', host, 'API key', ['dev-key-change-me-0123456789'], {})).not.toThrow();
    }
    expect(() => assertDevCredentialsStayLocal('intake', '0.0.0.0', 'API key', ['my-own-key-0123456789abc'], {})).not.toThrow();
    expect(() => assertDevCredentialsStayLocal('intake', '0.0.0.0', 'API key', ['dev-key-change-me-0123456789'], { LEADRELAY_INSECURE_DEV: '1' })).not.toThrow();
  });
});
