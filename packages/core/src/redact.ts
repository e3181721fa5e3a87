/**
 * Secrets must never reach logs, errors or metrics. Config keys whose names look secret are
 * redacted by name; values registered at config load are redacted wherever they appear in text.
 */
const SECRET_KEY = /(secret|password|passwd|api[-_]?keys?|token|connectionstring|authorization|accountkey|sig)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export class SecretRedactor {
  private readonly secrets = new Set<string>();

  /** Registers a value to hide; short values are ignored (they would redact ordinary words). */
  add(value: string | undefined): void {
    if (value && value.length >= 6) this.secrets.add(value);
  }

  /** Registers every secret-named string in a config tree, and AccountKey parts of connection strings. */
  addFromObject(value: unknown, key = ''): void {
    if (typeof value === 'string') {
      if (isSecretKey(key)) this.add(value);
      for (const m of value.matchAll(/(?:AccountKey|SharedAccessSignature)=([^;]+)/gi)) this.add(m[1]);
      // Credentials inside URLs (redis://:password@host, https://user:pass@host).
      for (const m of value.matchAll(/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:([^/@\s]+)@/gi)) this.add(decodeURIComponent(m[1]!));
    } else if (Array.isArray(value)) {
      for (const v of value) this.addFromObject(v, key);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) this.addFromObject(v, k);
    }
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('[redacted]');
    return out;
  }
}
