import { randomBytes } from 'node:crypto';

/** Standard Webhooks secret whose key bytes are `raw` (so the raw text is a needle too). */
function whsec(raw: string): string {
  return `whsec_${Buffer.from(raw).toString('base64')}`;
}

/**
 * Distinctive secret values for every kind LeadRelay holds, and every form one could leak in
 * (raw, base64 key bytes, URL-encoded, a Basic header). All raw values contain `S3CR3T`, so a
 * leak of any secret (even one not listed) shows up in a plain search too.
 */
export class SecretValues {
  readonly tag = randomBytes(4).toString('hex');
  readonly intakeKey = `S3CR3T-intake-${this.tag}`;
  readonly opsPassword = `S3CR3T-ops-${this.tag}`;
  readonly redisPassword = `S3CR3T-redis-${this.tag}`;
  readonly alertsSigningRaw = `S3CR3T-alerts-sign-${this.tag}-32bytes!!`;
  readonly alertsSigning = whsec(this.alertsSigningRaw);
  readonly hookSigningRaw = `S3CR3T-https-sign-${this.tag}-32bytes!!!`;
  readonly hookSigning = whsec(this.hookSigningRaw);
  /** `X-Api-Key` header value sent to the receiver. */
  readonly hookHeaderKey = `S3CR3T-https-header-${this.tag}`;
  /** `Authorization: Bearer` value sent to the receiver. */
  readonly hookBearer = `S3CR3T-https-bearer-${this.tag}`;
  /** A key carried in the receiver's URL (`?sig=`, as Power Automate URLs do). */
  readonly hookUrlSig = `S3CR3T-https-urlsig-${this.tag}`;
  /** A wrong storage AccountKey (Azurite accepts only its own): base64 of distinctive bytes. */
  readonly accountKeyRaw = `S3CR3T-azure-accountkey-${this.tag}-64bytes-of-key-material-0123456789`;
  readonly accountKey = Buffer.from(this.accountKeyRaw).toString('base64');
  readonly dynamicsSecretOk = `S3CR3T-dynamics-ok-${this.tag}`;
  readonly dynamicsSecretBad = `S3CR3T-dynamics-bad-${this.tag}`;
  readonly dynamicsPasswordOk = `S3CR3T-dynpw-ok-${this.tag}`;
  readonly dynamicsPasswordBad = `S3CR3T-dynpw-bad-${this.tag}`;
  readonly marketoSecretOk = `S3CR3T-marketo-ok-${this.tag}`;
  readonly marketoSecretBad = `S3CR3T-marketo-bad-${this.tag}`;
  readonly salesforceSecretOk = `S3CR3T-sfapi-ok-${this.tag}`;
  readonly salesforceSecretBad = `S3CR3T-sfapi-bad-${this.tag}`;

  /** Environment variables the config references (`${NAME}`), as an operator would pass them. */
  get env(): Record<string, string> {
    return {
      INTAKE_API_KEY: this.intakeKey, OPS_PASSWORD: this.opsPassword, REDIS_PASSWORD: this.redisPassword,
      ALERTS_SIGNING_SECRET: this.alertsSigning, HOOK_SIGNING_SECRET: this.hookSigning, HOOK_HEADER_KEY: this.hookHeaderKey,
      HOOK_BEARER: this.hookBearer, HOOK_URL_SIG: this.hookUrlSig, TABLE_BAD_ACCOUNT_KEY: this.accountKey,
      DYNAMICS_SECRET_OK: this.dynamicsSecretOk, DYNAMICS_SECRET_BAD: this.dynamicsSecretBad, DYNAMICS_PASSWORD_BAD: this.dynamicsPasswordBad,
      MARKETO_SECRET_OK: this.marketoSecretOk, MARKETO_SECRET_BAD: this.marketoSecretBad,
      SALESFORCE_SECRET_OK: this.salesforceSecretOk, SALESFORCE_SECRET_BAD: this.salesforceSecretBad,
    };
  }

  /** Every string whose presence in an output means a secret leaked, with a name for the report. */
  get needles(): [string, string][] {
    const raw: [string, string][] = [
      ['intake API key', this.intakeKey], ['ops password', this.opsPassword], ['redis password', this.redisPassword],
      ['alerts signing secret', this.alertsSigning], ['alerts signing key bytes', this.alertsSigningRaw],
      ['webhook signing secret', this.hookSigning], ['webhook signing key bytes', this.hookSigningRaw],
      ['webhook X-Api-Key header', this.hookHeaderKey], ['webhook bearer token', this.hookBearer], ['webhook URL sig', this.hookUrlSig],
      ['storage AccountKey', this.accountKey], ['storage AccountKey bytes', this.accountKeyRaw],
      ['dynamics client secret (valid)', this.dynamicsSecretOk], ['dynamics client secret (wrong)', this.dynamicsSecretBad],
      ['dynamics password (valid)', this.dynamicsPasswordOk], ['dynamics password (wrong)', this.dynamicsPasswordBad],
      ['marketo client secret (valid)', this.marketoSecretOk], ['marketo client secret (wrong)', this.marketoSecretBad],
      ['salesforce client secret (valid)', this.salesforceSecretOk], ['salesforce client secret (wrong)', this.salesforceSecretBad],
    ];
    const variants: [string, string][] = [];
    for (const [name, v] of raw) {
      const encoded = encodeURIComponent(v);
      if (encoded !== v) variants.push([`${name} (URL-encoded)`, encoded]);
      // Base64 of the value (e.g. inside a Basic header or a token).
      variants.push([`${name} (base64)`, Buffer.from(v).toString('base64').replace(/=+$/, '')]);
    }
    variants.push(['ops Basic credentials', Buffer.from(`ops:${this.opsPassword}`).toString('base64')]);
    // Any other form of any secret above.
    variants.push(['the S3CR3T marker', 'S3CR3T']);
    return [...raw, ...variants];
  }
}

/** Where a needle was found: the artifact and a short excerpt around it. */
export interface Leak {
  needle: string;
  artifact: string;
  excerpt: string;
}

export function findLeaks(artifacts: Record<string, string>, needles: readonly [string, string][]): Leak[] {
  const leaks: Leak[] = [];
  for (const [artifact, text] of Object.entries(artifacts)) {
    for (const [name, value] of needles) {
      const i = text.indexOf(value);
      if (i >= 0) leaks.push({ needle: name, artifact, excerpt: text.slice(Math.max(0, i - 200), i + value.length + 100) });
    }
  }
  return leaks;
}
