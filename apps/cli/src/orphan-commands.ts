import type { Command } from 'commander';
import { OrphanQueues, Relay, withTimeout, type OrphanQueue } from '@leadrelay/queue';
import type { LeadRelayConfig } from '@leadrelay/config';
import { CliFailure } from './cli-failure.js';
import type { CommandContext } from './command-context.js';
import { withRelay } from './with-relay.js';

/** One line per orphan queue: what it holds and the two ways out. */
export function orphanLines(orphans: OrphanQueue[]): string[] {
  return orphans.map((o) => {
    const held = Object.entries(o.counts).filter(([, n]) => n > 0).map(([place, n]) => `${n} ${place === 'failed' ? 'dead' : place}`).join(', ');
    return `queue '${o.queue}' has ${o.total} lead(s) but no destination in the config (${held}): nothing delivers them. `
      + `Move them: \`leadrelay dlq replay --destination ${o.queue} --to <destination>\`, or delete them: \`leadrelay purge ${o.queue} --dry-run\`, then \`--yes\``;
  });
}

/** Orphan queues of the config's Redis, or undefined when Redis does not answer in `timeoutMs` (validate works offline). */
export async function orphansIfReachable(config: LeadRelayConfig, timeoutMs = 2000): Promise<OrphanQueue[] | undefined> {
  const relay = new Relay(config);
  const orphans = new OrphanQueues(relay);
  try {
    if (!(await withTimeout(relay.ping(), timeoutMs).catch(() => false))) return undefined;
    return await withTimeout(orphans.list(), timeoutMs * 5);
  } catch {
    return undefined;
  } finally {
    await orphans.close();
    await relay.close();
  }
}

/** `purge <orphan-queue>`: delete the backlog of a destination removed from the config. */
export function registerOrphanCommands(program: Command, ctx: CommandContext): void {
  program.command('purge').argument('<queue>', 'an orphan queue: a destination id no longer in the config (see `leadrelay stats`)')
    .description('delete every lead of a queue whose destination was removed from the config (dead, waiting, delayed…)')
    .option('--dry-run', 'only count what would be deleted')
    .option('--yes', 'confirm: delete for good')
    .action(async (queue: string, o: { dryRun?: boolean; yes?: boolean }) => withRelay(ctx, async (relay) => {
      const orphans = new OrphanQueues(relay);
      try {
        if (!o.dryRun && !o.yes) {
          const preview = await orphans.purge(queue, { dryRun: true }).catch((e: Error) => { throw new CliFailure(e.message); });
          throw new CliFailure(`purge deletes ${Object.values(preview.counts).reduce((a, b) => a + b, 0)} job(s) of '${queue}' for good: add --yes (or --dry-run to count)`, 2);
        }
        const r = await orphans.purge(queue, { dryRun: o.dryRun ?? false }).catch((e: Error) => { throw new CliFailure(e.message); });
        const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
        ctx.output().out(ctx.json() ? JSON.stringify(r, null, 2)
          : r.dryRun ? `would delete ${total} job(s) of '${queue}': ${JSON.stringify(r.counts)}` : `deleted ${r.removed} job(s) of '${queue}'`);
      } finally {
        await orphans.close();
      }
    }));
}
