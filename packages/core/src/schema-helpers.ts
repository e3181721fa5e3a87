import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.js';

/** Ends every duration setting's description (docs/configuration.md's tables show the type as `duration` instead). */
export const DURATION_HELP = 'Duration: 500ms, 10s, 5m, 2h or 1d.';

/** A duration string (`500ms`, `10s`, `5m`, `2h`, `1d`) parsed to milliseconds. */
export const zDuration = () =>
  z.string().regex(DURATION_PATTERN, 'must be a duration like 500ms, 10s, 5m, 2h or 1d').transform((v) => parseDuration(v)!);

/** An absolute http(s) URL. Whether plain http is allowed is decided per destination (loopback or `allowInsecure`). */
export const zHttpUrl = () =>
  z.string().refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL');

/** Hosts that may be reached over plain http without `allowInsecure`. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Why an outbound URL is not allowed, or undefined when it is. */
export function checkOutboundUrl(url: string, allowInsecure: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'must be an absolute URL';
  }
  if (u.protocol === 'https:') return undefined;
  if (u.protocol !== 'http:') return `must be https (got ${u.protocol})`;
  if (allowInsecure || isLoopbackHost(u.hostname)) return undefined;
  return 'must be https; plain http is allowed only for loopback hosts or with allowInsecure: true';
}

/**
 * A Standard Webhooks secret: `whsec_` and canonical, padded base64 (what Go's strict decoder accepts; the
 * JavaScript signer throws on anything else, which would stop every delivery). Checked in the config schema so
 * `validate` points at the line (https destinations, alert targets).
 */
export const zWebhookSecret = () => z.string().superRefine((v, ctx) => {
  const b64 = v.startsWith('whsec_') ? v.slice('whsec_'.length) : undefined;
  if (b64 === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    ctx.addIssue({ code: 'custom', message: "must be a Standard Webhooks secret: 'whsec_' followed by base64" });
  } else if (b64.length % 4 !== 0 || Buffer.from(b64, 'base64').toString('base64') !== b64) {
    ctx.addIssue({ code: 'custom', message: "is not valid base64 after 'whsec_' (wrong length or padding, e.g. a character lost in copying): copy the secret again" });
  }
});
