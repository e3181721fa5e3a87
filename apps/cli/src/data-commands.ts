import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { CliFailure } from './cli-failure.js';
import type { CommandContext } from './command-context.js';
import { progress, table } from './output.js';
import { withRelay } from './with-relay.js';
import { sourcesText } from './source-commands.js';
import { deadLetterFilterFrom, InvalidDeadLetterFilterError, maskDeadLetter, maskStatus, OrphanQueues, type DeadLetterFilter } from '@leadrelay/queue';
import { orphanLines } from './orphan-commands.js';

function print(ctx: CommandContext, data: unknown, text: () => string): void {
  ctx.output().out(ctx.json() ? JSON.stringify(data, null, 2) : text());
}

/** `status`, `stats` and `dlq …`: reading and acting on what is in Redis. */
export function registerDataCommands(program: Command, ctx: CommandContext): void {
  program.command('status').argument('<leadId>').description("the lead's delivery state at every destination")
    .option('--show-pii', "show the customer's values in error texts (masked by default)")
    .action(async (leadId: string, o: { showPii?: boolean }) => withRelay(ctx, async (relay) => {
      const found = await relay.status(leadId);
      if (!found) throw new CliFailure(`no lead '${leadId}' (unknown, or older than leads.retention)`);
      const status = o.showPii ? found : maskStatus(found, await relay.leads.getLead(leadId));
      // Attempts in time order; the records' own times (delivered, dead, next attempt) shown beside them.
      const timeline = [...status.timeline].sort((a, b) => a.at.localeCompare(b.at));
      const { timeline: _unsorted, ...body } = status;
      print(ctx, { ...body, timeline }, () => [
        `lead ${status.id}  received ${status.receivedAt}${status.testLead ? '  (test lead)' : ''}`,
        ...(status.erasedAt ? [`erased ${status.erasedAt}: the customer's data was removed (leadrelay erase); what is left is this tombstone`] : []),
        '',
        table(Object.entries(status.deliveries).map(([destination, r]) => ({
          destination, ...r,
          when: r.deliveredAt ?? (r.state === 'dead' ? timeline.filter((t) => t.destination === destination).at(-1)?.at : r.nextAttemptAt),
        })),
          ['destination', 'state', 'attempts', 'when', 'remoteId', 'lastError']),
        ...Object.entries(status.deliveries).filter(([, r]) => r.remediation && r.state !== 'delivered').map(([d, r]) => `\n${d}: what to do: ${r.remediation}`),
        ...(status.seenBy?.length ? ['', 'arrived from:', ...status.seenBy.map((x) => `  ${x.at}  ${x.origin}  as ${x.leadId}`)] : []),
        ...(status.warnings?.length ? ['', 'intake changed the lead to accept it:', ...status.warnings.map((w) => `  ${w.path || '(body)'}: ${w.message}`)] : []),
        ...(timeline.length ? ['', 'attempts:', table(timeline.map((t) => ({ ...t, duration: `${t.durationMs}ms`, warnings: t.warnings?.join('; ') })),
          ['at', 'destination', 'attempt', 'outcome', 'duration', 'error', ...(timeline.some((t) => t.warnings?.length) ? ['warnings'] : [])])] : []),
      ].join('\n'));
    }));

  program.command('stats').description('per destination: state, queue, delivered/dead, success rate 1h/24h, last success and the current error')
    .action(async () => withRelay(ctx, async (relay) => {
      const stats = await relay.allStats();
      // Pull sources in the text view; --json keeps its documented array of destinations (`sources --json` has them).
      const sources = ctx.json() ? '' : await sourcesText(relay);
      const pct = (r: number | undefined) => (r === undefined ? undefined : `${Math.round(r * 100)}%`);
      const shaped = stats.map((s) => ({
        destination: s.destination, type: s.type, state: s.state, waiting: s.waiting, active: s.active, stalled: s.stalled, delayed: s.delayed,
        delivered: s.delivered, dead: s.dead,
        deliveredLastHour: s.deliveredLastHour, deliveredLastDay: s.deliveredLastDay,
        failedAttemptsLastHour: s.failedAttemptsLastHour, failedAttemptsLastDay: s.failedAttemptsLastDay,
        ...(s.successRateLastHour !== undefined ? { successRateLastHour: s.successRateLastHour } : {}),
        ...(s.successRateLastDay !== undefined ? { successRateLastDay: s.successRateLastDay } : {}),
        ...(s.lastSuccessAt ? { lastSuccessAt: s.lastSuccessAt } : {}),
        ...(s.lastError ? { lastError: s.lastError, lastErrorAt: s.lastErrorAt, lastErrorCode: s.lastErrorCode } : {}),
        ...(s.pausedReason ? { pausedReason: s.pausedReason, pausedBy: s.pausedBy, pausedAt: s.pausedAt } : {}),
        ...(s.throttledUntil ? { throttledUntil: s.throttledUntil } : {}),
        ...(s.remediation ? { remediation: s.remediation } : {}),
      }));
      const orphans = await new OrphanQueues(relay).list();
      // Queues of destinations no longer in the config: in the same array (--json), marked `configured: false`.
      const orphanRows = orphans.map((o) => ({ destination: o.queue, configured: false, state: 'orphaned', waiting: o.counts.waiting + o.counts.paused, active: o.counts.active, delayed: o.counts.delayed, dead: o.counts.failed }));
      const rows = shaped.map((s) => ({
        ...s, active: s.stalled > 0 ? `${s.active} (${s.stalled} stalled)` : s.active, 'ok 1h/24h': `${pct(s.successRateLastHour) ?? '-'} / ${pct(s.successRateLastDay) ?? '-'}`,
        lastSuccess: s.lastSuccessAt, lastError: s.lastError ? `${s.lastErrorAt}  ${s.lastError}` : undefined,
      }));
      print(ctx, [...shaped, ...orphanRows], () => table([...rows, ...orphanRows], ['destination', 'type', 'state', 'waiting', 'active', 'delayed', 'delivered', 'dead', 'ok 1h/24h', 'lastSuccess', 'lastError'])
        + stats.filter((s) => s.state !== 'running' || s.remediation).map((s) => `\n${s.destination} is ${s.state}${
          s.state === 'paused' ? ` (by ${s.pausedBy === 'operator' ? 'an operator' : 'LeadRelay'} at ${s.pausedAt}): ${s.pausedReason ?? ''}`
            : s.state === 'throttled' ? ` until ${s.throttledUntil}` : ''}${s.remediation ? `\n  what to do: ${s.remediation}` : ''}`).join('')
        + orphanLines(orphans).map((l) => `\n${l}`).join('')
        + (sources ? `\n\nsources:\n${sources}` : ''));
    }));

  const dlq = program.command('dlq').description('dead-lettered deliveries');
  withDeadLetterFilters(dlq.command('list').option('--destination <id>', 'only this destination').description('lead id, destination, attempts, last error, remediation, time'))
    .option('--show-pii', "show the customer's values in error texts (masked by default)")
    .action(async (o: DeadLetterOptions & { showPii?: boolean }) => withRelay(ctx, async (relay) => {
      const found = await relay.deadLetters(deadLetterFilter(o));
      const items = o.showPii ? found : found.map(maskDeadLetter);
      const shaped = items.map((d) => ({ leadId: d.leadId, destination: d.destination, attempts: d.attempts, lastError: d.lastError, remediation: d.remediation, failedAt: d.failedAt }));
      const orphans = o.destination || ctx.json() ? [] : (await new OrphanQueues(relay).list()).filter((q) => q.counts.failed > 0);
      print(ctx, shaped, () => (shaped.length === 0 ? 'no dead-lettered deliveries' : table(shaped, ['failedAt', 'leadId', 'destination', 'attempts', 'lastError', 'remediation']))
        + orphans.map((q) => `\nqueue '${q.queue}' (no longer in the config) has ${q.counts.failed} dead: \`leadrelay dlq list --destination ${q.queue}\``).join(''));
    }));

  for (const verb of ['replay', 'purge'] as const) {
    const cmd = withDeadLetterFilters(dlq.command(verb)
      .description(verb === 'replay' ? 're-queue dead deliveries with fresh attempts' : 'delete dead deliveries')
      .option('--destination <id>', 'only this destination').option('--id <leadId>', 'one lead').option('--all', 'every dead delivery (of --destination and the filters below, if given)'))
      .option('--dry-run', verb === 'replay' ? 'only count what would be replayed (with --to: what would move)' : 'only count what would be deleted');
    if (verb === 'purge') cmd.option('--yes', 'do not ask');
    if (verb === 'replay') {
      cmd.option('--to <destination>', 'with --destination <orphan queue> (a destination removed from the config): move its whole backlog (dead, waiting, delayed) to this destination, fresh attempts');
    }
    cmd.action(async (o: DeadLetterOptions & { id?: string; all?: boolean; yes?: boolean; to?: string; dryRun?: boolean }) => {
      if (o.to) return moveOrphan(ctx, o);
      if (Boolean(o.id) === Boolean(o.all)) throw new CliFailure(`dlq ${verb} needs exactly one of --id <leadId> or --all`, 2);
      await withRelay(ctx, async (relay) => {
        const filter = { ...deadLetterFilter(o), ...(o.id ? { leadId: o.id } : {}) };
        const total = (await relay.deadLetters(filter)).length;
        if (o.dryRun) {
          const key = verb === 'replay' ? 'wouldReplay' : 'wouldPurge';
          return print(ctx, { [key]: total }, () => `would ${verb} ${total} dead deliver${total === 1 ? 'y' : 'ies'} (nothing changed)`);
        }
        if (verb === 'purge' && total > 0 && !o.yes) await confirm(`Delete ${total} dead deliver${total === 1 ? 'y' : 'ies'} for good?`);
        const bar = progress(ctx.output(), verb === 'replay' ? 'replayed' : 'purged', total);
        const n = await relay[verb](filter, (done) => bar.update(done));
        bar.end();
        if (o.id && n === 0) throw new CliFailure(`no dead delivery for lead '${o.id}'${o.destination ? ` at ${o.destination}` : ''}`);
        print(ctx, { [verb === 'replay' ? 'replayed' : 'purged']: n }, () => `${verb === 'replay' ? 'replayed' : 'purged'} ${n} dead deliver${n === 1 ? 'y' : 'ies'}`);
      });
    });
  }
}

interface DeadLetterOptions {
  destination?: string;
  since?: string;
  until?: string;
  code?: string;
  offer?: string;
}

/** The filters every `dlq` command takes. */
function withDeadLetterFilters(cmd: Command): Command {
  return cmd
    .option('--since <when>', 'dead-lettered at or after: a duration ago (1d, 6h) or an ISO time')
    .option('--until <when>', 'dead-lettered before: a duration ago or an ISO time')
    .option('--code <code>', "the last error's code: LeadRelay's (LR_PAYLOAD_REJECTED) or the destination's own (FIELD_INTEGRITY_EXCEPTION, 1006)")
    .option('--offer <glob>', "the lead's offer, * and ? allowed (contoso.*)");
}

function deadLetterFilter(o: DeadLetterOptions): DeadLetterFilter {
  try {
    return { ...(o.destination ? { destination: o.destination } : {}), ...deadLetterFilterFrom(o, Date.now(), (f) => `--${f}`) };
  } catch (e) {
    if (e instanceof InvalidDeadLetterFilterError) throw new CliFailure(e.message, 2);
    throw e;
  }
}

/** `dlq replay --destination <orphan> --to <destination>`: the backlog of a removed or renamed destination to another one. */
async function moveOrphan(ctx: CommandContext, o: { destination?: string; to?: string; dryRun?: boolean; id?: string }): Promise<void> {
  if (!o.destination) throw new CliFailure('dlq replay --to needs --destination <orphan queue>: the removed or renamed destination whose leads to move', 2);
  if (o.id) throw new CliFailure('dlq replay --to moves a whole orphan queue; leave out --id', 2);
  await withRelay(ctx, async (relay) => {
    const orphans = new OrphanQueues(relay);
    try {
      const r = await orphans.move(o.destination!, o.to!, { dryRun: o.dryRun ?? false }).catch((e: Error) => { throw new CliFailure(e.message); });
      print(ctx, r, () => `${r.dryRun ? 'would move' : 'moved'} ${r.moved} lead(s) from '${r.from}' to '${r.to}'`
        + (r.alreadyThere ? `; ${r.alreadyThere} were already accepted for '${r.to}' (${r.dryRun ? 'would be ' : ''}dropped from '${r.from}', not queued twice)` : '')
        + (r.inFlight ? `; ${r.inFlight} still active at a running worker: run it again once that worker is stopped` : ''));
    } finally {
      await orphans.close();
    }
  });
}

async function confirm(question: string): Promise<void> {
  if (!process.stdin.isTTY) throw new CliFailure('refusing to purge without confirmation: add --yes', 2);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliFailure('purge cancelled');
}
