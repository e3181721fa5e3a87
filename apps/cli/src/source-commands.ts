import type { Command } from 'commander';
import { createPullSource, partnerCenterAuth, readSourceHealth, reconcile, sourceState } from '@leadrelay/sources';
import { parseDuration } from '@leadrelay/core';
import { CliFailure } from './cli-failure.js';
import type { Relay } from '@leadrelay/queue';
import type { CommandContext } from './command-context.js';
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

  program.command('login').argument('<source-id>', 'a referrals source')
    .option('--timeout <duration>', 'how long to wait for the sign-in in the browser', '15m')
    .description('sign in to Partner Center for a referrals source (device code, as a user with the Referrals Admin role); the token cache is kept encrypted in Redis')
    .action(async (id: string, o: { timeout: string }) => withRelay(ctx, async (relay) => {
      const source = relay.config.sources.find((s) => s.id === id);
      if (!source) throw new CliFailure(`unknown source '${id}' (configured: ${relay.config.sources.map((s) => s.id).join(', ') || 'none'})`, 2);
      if (source.type !== 'referrals') throw new CliFailure(`source '${id}' is ${source.type}: only referrals sources sign in (an azure-table source uses its connectionString)`, 2);
      const ms = parseDuration(o.timeout);
      if (ms === undefined) throw new CliFailure(`--timeout must be a duration like 15m (got '${o.timeout}')`, 2);
      const auth = await partnerCenterAuth(source, relay);
      let username: string;
      try {
        ({ username } = await auth.login((p) => ctx.output().out(p.message), Math.ceil(ms / 1000)));
      } catch (e) {
        const err = e as { errorCode?: string; message?: string };
        throw new CliFailure(`sign-in failed: ${err.errorCode ?? err.message ?? String(e)}`);
      }
      // A source paused for want of a sign-in polls again at its next turn.
      await sourceState(relay, id).resume();
      ctx.output().out(`signed in to Partner Center as ${username}; the token cache is stored encrypted in Redis; source ${id} will poll at its next turn`);
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
