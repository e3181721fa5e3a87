import type { Command } from 'commander';
import { createPullSource, readSourceHealth, reconcile } from '@leadrelay/sources';
import { parseDuration } from '@leadrelay/core';
import { CliFailure } from './cli-failure.js';
import type { Relay } from '@leadrelay/queue';
import type { CommandContext } from './main.js';
import { table } from './output.js';
import { withRelay } from './with-relay.js';

/** The sources table `stats` and `sources` print. */
export async function sourcesText(relay: Relay): Promise<string> {
  const health = await readSourceHealth(relay);
  if (health.length === 0) return '';
  const rows = health.map((h) => ({
    source: h.source, type: h.type, state: h.state, lag: h.lagSeconds === undefined ? undefined : `${h.lagSeconds}s`,
    polls: h.polls, failedPolls: h.failedPolls, leadsFound: h.leadsFound, lastPollAt: h.lastPollAt, lastError: h.lastError,
  }));
  return table(rows, ['source', 'type', 'state', 'lag', 'polls', 'failedPolls', 'leadsFound', 'lastPollAt', 'lastError'])
    + health.filter((h) => h.pause).map((h) => `\n${h.source} is paused: ${h.pause!.reason}\n  what to do: ${h.pause!.remediation}`).join('');
}

/** `sources`: what each pull source has read, its lag and its last error. */
export function registerSourceCommands(program: Command, ctx: CommandContext): void {
  program.command('sources').description('per pull source: state, lag, polls, leads found, last error')
    .action(async () => withRelay(ctx, async (relay) => {
      if (ctx.json()) ctx.output().out(JSON.stringify(await readSourceHealth(relay), null, 2));
      else ctx.output().out((await sourcesText(relay)) || 'no sources configured');
    }));

  program.command('reconcile').option('--since <duration>', 'the period, back from now', '7d')
    .description('what each source reports for the period vs what was accepted and delivered; each missing lead with its reason (exit 1 if any)')
    .action(async (o: { since: string }) => withRelay(ctx, async (relay) => {
      const ms = parseDuration(o.since);
      if (ms === undefined) throw new CliFailure(`--since must be a duration like 7d or 12h (got '${o.since}')`, 2);
      if (relay.config.sources.length === 0) throw new CliFailure('no sources configured: reconcile compares pull sources (sources: in the config) with what was delivered');
      const report = await reconcile(relay, createPullSource, new Date(Date.now() - ms));
      if (ctx.json()) ctx.output().out(JSON.stringify(report, null, 2));
      else {
        const rows = report.sources.map((r) => ({ source: r.source, type: r.type, reported: r.reported, accepted: r.accepted, pending: r.pending,
          delivered: Object.entries(r.destinations).map(([d, c]) => `${d} ${c.delivered}/${c.delivered + c.waiting + c.dead}`).join(', ') }));
        ctx.output().out([`since ${report.since}`, table(rows, ['source', 'type', 'reported', 'accepted', 'pending', 'delivered']),
          ...(report.missing.length ? ['', `${report.missing.length} missing:`, table(report.missing.map((m) => ({ ...m })), ['source', 'key', 'leadId', 'destination', 'reason'])] : ['', 'nothing missing']),
        ].join('\n'));
      }
      if (report.gap) throw new CliFailure(`${report.missing.length} lead(s) missing`);
    }));
}
