import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where a test certificate lives on disk. */
export interface TlsCertPaths {
  certPath: string;
  keyPath: string;
}

/** A certificate and key as PEM text, ready for `https.createServer`. */
export interface TlsCert {
  cert: string;
  key: string;
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made with the `openssl` CLI in a fresh temp dir.
 * Fake HTTPS servers (Azure AD, Dataverse…) serve it; MSAL refuses plain-http authorities, so they need one.
 */
export class TestTlsCertificate implements TlsCertPaths {
  readonly dir = mkdtempSync(join(tmpdir(), 'leadrelay-tls-'));
  readonly certPath = join(this.dir, 'cert.pem');
  readonly keyPath = join(this.dir, 'key.pem');
  /** The file NODE_EXTRA_CA_CERTS points at: this cert plus any CA bundle the environment already trusted. */
  readonly bundlePath = join(this.dir, 'extra-ca.pem');

  constructor() {
    // An EC key is generated in milliseconds; 2 days is plenty for one test run.
    const r = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', this.keyPath, '-out', this.certPath, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { encoding: 'utf8' });
    if (r.status !== 0) {
      this.remove();
      throw new Error(`openssl could not create a test certificate (is /usr/bin/openssl installed?): ${r.error?.message ?? r.stderr}`);
    }
  }

  /**
   * Makes processes started from now on (vitest's forks inherit this process's env) trust the certificate.
   * NODE_EXTRA_CA_CERTS is read only at process start, so call this before any worker starts.
   */
  trustInChildProcesses(): void {
    const previous = process.env.NODE_EXTRA_CA_CERTS;
    const inherited = previous && existsSync(previous) ? readFileSync(previous, 'utf8').trimEnd() + '\n' : '';
    writeFileSync(this.bundlePath, inherited + readFileSync(this.certPath, 'utf8'));
    process.env.NODE_EXTRA_CA_CERTS = this.bundlePath;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Reads the PEM files (in a test worker, from `inject('tlsCert')`). */
export function readTlsCert(paths: TlsCertPaths): TlsCert {
  return { cert: readFileSync(paths.certPath, 'utf8'), key: readFileSync(paths.keyPath, 'utf8') };
}
