import type { ResolvedDestination } from '@leadrelay/config';
import { getDestinationType } from '@leadrelay/destinations';
import type { DestinationHealth, DestinationStats, Relay } from '@leadrelay/queue';

/** What the ops server says about a destination: stats plus id, type and host, never its settings. */
export interface DestinationView extends DestinationStats {
  enabled: boolean;
  /** Hosts it talks to (no scheme, path, query or user info: those can carry keys). */
  hosts: string[];
}

/** DestinationView plus the detail of its pause, throttle and last error. */
export interface DestinationDetail extends DestinationView {
  pause?: { by: 'operator' | 'configuration'; reason: string; remediation?: string; at: string };
  lastErrorDetail?: { message: string; remediation: string; code: string; destinationCode?: string; status?: number; kind: string; at: string };
}

/** Host names of the URLs a destination calls, from its type's own list of outbound URLs. */
export function destinationHosts(d: ResolvedDestination): string[] {
  const def = getDestinationType(d.type);
  const hosts = new Set<string>();
  try {
    for (const { url } of def?.outboundUrls?.(d as never) ?? []) {
      try {
        hosts.add(new URL(url).host);
      } catch {
        // not a URL: nothing to show
      }
    }
  } catch {
    // a type whose settings cannot be read this way shows no host
  }
  return [...hosts];
}

export async function destinationView(relay: Relay, id: string): Promise<DestinationView> {
  const d = relay.destination(id);
  const stats = await relay.stats(id);
  return { ...stats, enabled: d.enabled, hosts: destinationHosts(d) };
}

export async function destinationDetail(relay: Relay, id: string): Promise<DestinationDetail> {
  const [view, health] = await Promise.all([destinationView(relay, id), relay.health(id)]);
  return { ...view, ...pauseOf(health), ...lastErrorOf(health) };
}

// Picked field by field: the stored pause also holds a hash of the destination's settings.
function pauseOf(h: DestinationHealth): Pick<DestinationDetail, 'pause'> {
  if (!h.pause) return {};
  const { by, reason, remediation, at } = h.pause;
  return { pause: { by, reason, at, ...(remediation ? { remediation } : {}) } };
}

function lastErrorOf(h: DestinationHealth): Pick<DestinationDetail, 'lastErrorDetail'> {
  if (!h.lastError) return {};
  const { message, remediation, code, destinationCode, status, kind, at } = h.lastError;
  return {
    lastErrorDetail: {
      message, remediation, code, kind, at,
      ...(destinationCode !== undefined ? { destinationCode } : {}), ...(status !== undefined ? { status } : {}),
    },
  };
}
