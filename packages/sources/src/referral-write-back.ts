import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { ResolvedReferralsSource } from '@leadrelay/config';
import type { Logger } from '@leadrelay/observability';
import type { Relay } from '@leadrelay/queue';
import { ReferralConflictError, type PartnerCenterClient } from './partner-center-client.js';
import type { ReferralRecord } from './referral-mapping.js';

/** Queue of every referral write-back (`_` never starts a destination id). */
export const WRITE_BACK_QUEUE = '_writeback';

export interface WriteBackJobData {
  source: string;
  leadId: string;
  referralId: string;
  /** Times the destination's record was found not yet delivered. */
  checks?: number;
}

export interface ReferralWriteBackOptions {
  relay: Relay;
  logger: Logger;
  /** The Partner Center client of a referrals source. */
  client: (source: ResolvedReferralsSource) => Promise<PartnerCenterClient>;
  sources: () => ResolvedReferralsSource[];
  /** First wait for the lead's delivery, doubled per check up to `maxCheckDelayMs`. Default 2 s. */
  firstCheckMs?: number;
  /** Longest wait between checks of a lead not yet delivered. Default 5 min. */
  maxCheckDelayMs?: number;
  /** Write attempts (a failed PATCH) before the write-back is given up. Default 8, from 5 s, doubling. */
  attempts?: number;
  retryDelayMs?: number;
  /** Re-reads after a 412 within one attempt. Default 3. */
  conflictRetries?: number;
}

/**
 * Sets a referral's `externalReferenceId` to the record id the `writeBack.destination` returned (and,
 * with `status: accept`, moves a New referral to Active / Accepted) once the lead is delivered there.
 * One job per lead, queued with the lead before the page's watermark is committed, so a crash never
 * loses one; it waits for the delivery, then PATCHes with the eTag it just read (a 412 re-reads and
 * retries). Each outcome is a timeline entry of the lead (`<source> write-back`).
 */
export class ReferralWriteBack {
  readonly queue: Queue<WriteBackJobData>;
  private worker?: Worker<WriteBackJobData>;
  private readonly log: Logger;

  constructor(private readonly options: ReferralWriteBackOptions) {
    const { relay } = options;
    this.log = options.logger.child({ component: 'write-back' });
    this.queue = new Queue<WriteBackJobData>(WRITE_BACK_QUEUE, { connection: relay.redis, prefix: relay.keys.bullPrefix(WRITE_BACK_QUEUE) });
    this.queue.on('error', () => { /* surfaced by the command that failed */ });
  }

  /** Queues the write-backs of accepted referral leads (idempotent per lead). */
  async enqueue(source: ResolvedReferralsSource, leads: { leadId: string; referralId: string }[]): Promise<void> {
    if (!source.writeBack || leads.length === 0) return;
    await this.queue.addBulk(leads.map((l) => ({
      name: 'write-back', data: { source: source.id, ...l },
      opts: {
        jobId: `wb.${source.id}.${l.leadId}`, delay: this.options.firstCheckMs ?? 2000, attempts: this.options.attempts ?? 8,
        backoff: { type: 'exponential', delay: this.options.retryDelayMs ?? 5000 }, removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 },
      },
    })));
  }

  async start(): Promise<void> {
    const { relay } = this.options;
    this.worker = new Worker<WriteBackJobData>(WRITE_BACK_QUEUE, (job, token) => this.process(job, token), {
      connection: relay.redis, prefix: relay.keys.bullPrefix(WRITE_BACK_QUEUE), concurrency: 4,
    });
    this.worker.on('error', (err) => this.log.error({ err: err.message }, 'write-back worker error'));
    this.worker.on('failed', (job, err) => {
      if (!job || err instanceof DelayedError || job.attemptsMade < (job.opts.attempts ?? 1)) return;
      void this.entry(job, 'dead', 0, err.message);
    });
  }

  private async process(job: Job<WriteBackJobData>, token?: string): Promise<string> {
    const s = this.options.sources().find((x) => x.id === job.data.source);
    if (!s?.writeBack) return 'write-back no longer configured';
    const record = await this.options.relay.leads.getRecord(job.data.leadId, s.writeBack.destination);
    if (!record) return `not delivered to ${s.writeBack.destination} (not routed there, or the lead expired)`;
    if (record.state === 'dead') return `dead-lettered at ${s.writeBack.destination}: nothing to write back`;
    if (record.state !== 'delivered') {
      const checks = (job.data.checks ?? 0) + 1;
      await job.updateData({ ...job.data, checks });
      const wait = Math.min(this.options.maxCheckDelayMs ?? 300_000, (this.options.firstCheckMs ?? 2000) * 2 ** Math.min(checks, 20));
      await job.moveToDelayed(Date.now() + wait, token);
      throw new DelayedError();
    }
    if (!record.remoteId) {
      await this.entry(job, 'delivered', 0, undefined, [`${s.writeBack.destination} returned no record id: externalReferenceId left unchanged`]);
      return 'no record id';
    }
    const started = performance.now();
    const client = await this.options.client(s);
    let written = false;
    try {
      for (let conflict = 0; ; conflict++) {
        const referral = await client.getReferral<ReferralRecord>(job.data.referralId);
        const ops: { op: 'replace'; path: string; value: string }[] = [];
        if (referral.externalReferenceId !== record.remoteId) ops.push({ op: 'replace', path: '/externalReferenceId', value: record.remoteId });
        if (s.writeBack.status === 'accept' && referral.status === 'New') {
          ops.push({ op: 'replace', path: '/status', value: 'Active' }, { op: 'replace', path: '/substatus', value: 'Accepted' });
        }
        if (ops.length === 0) break;
        try {
          await client.patchReferral(job.data.referralId, ops, referral.eTag);
          written = true;
          break;
        } catch (e) {
          if (!(e instanceof ReferralConflictError) || conflict >= (this.options.conflictRetries ?? 3)) throw e;
        }
      }
    } catch (e) {
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (!last) await this.entry(job, 'retried', performance.now() - started, (e as Error).message);
      this.log.warn({ leadId: job.data.leadId, source: s.id, err: (e as Error).message }, 'write-back failed');
      throw e;
    }
    // A referral seen again (our PATCH moved its updatedDateTime) already holds the record id: nothing to tell.
    if (!written) return 'already written back';
    await this.entry(job, 'delivered', performance.now() - started);
    this.log.info({ leadId: job.data.leadId, source: s.id, referralId: job.data.referralId }, 'referral written back');
    return 'written';
  }

  private async entry(job: Job<WriteBackJobData>, outcome: 'delivered' | 'retried' | 'dead', ms: number, error?: string, warnings?: string[]): Promise<void> {
    await this.options.relay.leads.appendTimeline(job.data.leadId, {
      destination: `${job.data.source} write-back`, attempt: job.attemptsMade + 1, at: new Date().toISOString(), outcome,
      durationMs: Math.round(ms), ...(error ? { error } : {}), ...(warnings ? { warnings } : {}),
    }).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
