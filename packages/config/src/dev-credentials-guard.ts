import { isIP } from 'node:net';

/** The well-known key and password of the bundled leadrelay.yaml: anyone who read the README knows them. */
export const BUNDLED_DEV_SECRETS = ['dev-key-change-me-0123456789', 'dev-password-change-me'];

/** `--insecure-dev` (or LEADRELAY_INSECURE_DEV=1) lets a process listen beyond loopback with them anyway. */
export const INSECURE_DEV_ENV = 'LEADRELAY_INSECURE_DEV';

/** A process that would listen on a non-loopback address while guarded by a bundled dev key or password. */
export class DevCredentialsExposedError extends Error {
  readonly code = 'LR_DEV_CREDENTIALS_EXPOSED';
  constructor(what: string, host: string, setting: string) {
    super(`${what} refuses to listen on ${host} with the bundled dev ${setting}: it is published in the README, so anyone who can reach `
      + `this address could use it. Set your own (${setting === 'API key' ? 'INTAKE_API_KEY' : 'OPS_PASSWORD'}), or listen on 127.0.0.1, `
      + `or pass --insecure-dev (LEADRELAY_INSECURE_DEV=1) for a throwaway setup such as docker compose on your laptop.`);
    this.name = 'DevCredentialsExposedError';
  }
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Throws DevCredentialsExposedError when `host` is not loopback, a secret is a bundled dev one and insecure dev mode is off. */
export function assertDevCredentialsStayLocal(what: string, host: string, setting: 'API key' | 'password', secrets: (string | undefined)[], env: NodeJS.ProcessEnv = process.env): void {
  if (isLoopbackHost(host) || env[INSECURE_DEV_ENV] === '1') return;
  if (secrets.some((s) => s !== undefined && BUNDLED_DEV_SECRETS.includes(s))) throw new DevCredentialsExposedError(what, host, setting);
}
