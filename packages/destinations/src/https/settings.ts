import { z } from 'zod';
import { DURATION_HELP, zDuration, zHttpUrl, zWebhookSecret } from '@leadrelay/core';

export const httpsSettings = z.object({
  url: zHttpUrl().describe('Where leads are POSTed.'),
  format: z.enum(['marketplace', 'canonical']).default('marketplace')
    .describe("marketplace: the JSON Microsoft's HTTPS-endpoint lead destination sends; canonical: LeadRelay's own lead JSON."),
  headers: z.record(z.string(), z.string()).default({})
    .describe('Extra request headers, e.g. an API key the receiver expects; Content-Type, Content-Length, Host and webhook-* are set by LeadRelay and cannot be replaced.'),
  signingSecret: zWebhookSecret().optional()
    .describe('Standard Webhooks secret (whsec_<base64>) that signs every request. Default: none, requests are not signed.'),
  signingSecrets: z.array(zWebhookSecret()).min(1).max(5).optional().describe(
    'Several secrets, for rotation: [new, old]. Every request carries one v1, signature per secret, space-separated (Standard Webhooks '
    + 'verifiers accept any match), so the receiver can switch secrets without a gap. Instead of signingSecret. Default: none.'),
  tls: z.object({
    cert: z.string().min(1).describe('Client certificate chain: PEM text or the path of a PEM file.'),
    key: z.string().min(1).describe('Private key of the certificate (unencrypted PEM): text or file path.'),
    ca: z.string().min(1).optional().describe("CA certificates that sign the receiver's certificate, replacing the system list: PEM text or file path. Default: the system's CA list."),
  }).strict().optional().describe('Mutual TLS: the client certificate LeadRelay presents to a receiver that requires one. Default: none.'),
  timeout: zDuration().prefault('10s').describe(`Timeout of one request. ${DURATION_HELP}`),
});
export type HttpsSettings = z.output<typeof httpsSettings>;

/** Headers LeadRelay sets itself; `headers:` in the config cannot replace them (signing and parsing depend on them). */
export const RESERVED_HEADERS = ['content-type', 'content-length', 'host', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];
