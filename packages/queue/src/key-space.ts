/**
 * Every key LeadRelay writes, under `redis.prefix`. The prefix is wrapped in a {hash tag} so a
 * lead's fan-out, its status and all queues live in one Redis Cluster slot and MULTI stays atomic.
 */
export class KeySpace {
  /** BullMQ's prefix: queues are `{prefix}:q:<destination>:*`. */
  readonly bullPrefix: string;
  private readonly root: string;

  constructor(readonly prefix: string) {
    this.root = `{${prefix}}`;
    this.bullPrefix = `${this.root}:q`;
  }

  /** Hash: the lead, when it arrived, matched and skipped destinations, one delivery record per destination. */
  lead(leadId: string): string {
    return `${this.root}:lead:${leadId}`;
  }

  /** List: every delivery attempt of a lead, oldest first. */
  timeline(leadId: string): string {
    return `${this.root}:timeline:${leadId}`;
  }

  /** String: id-less lead content hash → lead id, for `intake.dedupeWindow`. */
  dedupe(contentId: string): string {
    return `${this.root}:dedupe:${contentId}`;
  }

  /** Hash: a destination's pause reason, throttle deadline and last error. */
  destination(destinationId: string): string {
    return `${this.root}:dest:${destinationId}`;
  }

  /** String set only if absent: limits how often one kind of alert fires for a destination, across processes. */
  alert(destinationId: string, kind: string): string {
    return `${this.root}:dest:${destinationId}:alert:${kind}`;
  }

  /** Counter of delivered/dead deliveries (and, hourly only, failed attempts); with `hour` (epoch hours) the per-hour bucket. */
  counter(destinationId: string, outcome: 'delivered' | 'dead' | 'failed', hour?: number): string {
    return `${this.root}:count:${destinationId}:${outcome}${hour === undefined ? '' : `:${hour}`}`;
  }

  /** Sorted set behind a destination's rolling quota. */
  quota(destinationId: string, name: string): string {
    return `${this.root}:quota:${destinationId}:${name}`;
  }

  /** Queue name of a destination (ids are `^[a-z][a-z0-9-]*$`, so never contain `:`). */
  queueName(destinationId: string): string {
    return destinationId;
  }

  /** Deterministic job id: a lead is queued at most once per destination. Never all digits, never has `:`. */
  jobId(destinationId: string, leadId: string): string {
    return `${destinationId}.${leadId}`;
  }

  leadIdOfJob(destinationId: string, jobId: string): string {
    return jobId.slice(destinationId.length + 1);
  }
}
