import type { Command } from 'commander';
import { readSourceHealth } from '@leadrelay/sources';
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
}
