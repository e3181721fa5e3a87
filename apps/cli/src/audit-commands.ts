import type { Command } from 'commander';
import { AUDIT_BUCKETS, KeyMigration, LeadAudit, LeadRepair, type RepairReport } from '@leadrelay/queue';
import { CliFailure } from './cli-failure.js';
import type { CommandContext } from './command-context.js';
import { table } from './output.js';
import { withRelay } from './with-relay.js';

/**
 * `migrate-keys`: moves a single-slot deployment's keys (`{prefix}:…`) to the spread layout a Redis
 * Cluster uses. Idempotent and resumable: run it again after an interruption.
 */
function registerMigrateKeys(program: Command, ctx: CommandContext): void {
  program.command('migrate-keys').description('move leads, queued/delayed/dead jobs and destination state from the one-slot key layout to the per-destination/per-lead-shard layout of redis.cluster (stop intake and workers first; safe to run again)')
    .option('--dry-run', 'only count what would move')
    .action(async (opts: { dryRun?: boolean }) => withRelay(ctx, async (relay) => {
      const report = await new KeyMigration(relay.redis, relay.keys, { dryRun: opts.dryRun === true }).run();
      const out = ctx.output();
      if (ctx.json()) return out.out(JSON.stringify(report, null, 2));
      if (!relay.keys.spread) return out.out('nothing to migrate: without redis.cluster the keys stay in the one-slot layout');
      const jobs = Object.entries(report.jobs);
      out.out([
        `${report.dryRun ? 'would move' : 'moved'} ${report.leadKeys} lead key(s), ${report.destinationKeys} destination key(s)`
          + (jobs.length ? `, jobs: ${jobs.map(([d, n]) => `${d} ${n}`).join(', ')}` : ', no jobs'),
        ...(report.leftInPlace ? [`${report.leftInPlace} other key(s) keep their name`] : []),
      ].join('\n'));
    }));
}

/** `audit`: per destination accepted = delivered + dead + pending + skipped, and every lead in none of them. */
export function registerAuditCommands(program: Command, ctx: CommandContext): void {
  registerMigrateKeys(program, ctx);
  program.command('audit').description('per destination: accepted = delivered + dead + pending + skipped, and every lead that is in none of them')
    .option('--repair', 'first finish leads whose accept stopped midway (stored, not or not fully queued, older than a minute): add their missing jobs and mark them accepted')
    .option('--dry-run', 'with --repair: only list what would be repaired')
    .action(async (opts: { repair?: boolean; dryRun?: boolean }) => withRelay(ctx, async (relay) => {
      const repair: RepairReport | undefined = opts.repair ? await new LeadRepair(relay, { dryRun: opts.dryRun === true }).run() : undefined;
      const audit = new LeadAudit(relay.redis, relay.keys, { configured: relay.config.destinations.map((d) => d.id) });
      const report = await audit.run().finally(() => audit.close());
      const out = ctx.output();
      if (ctx.json()) out.out(JSON.stringify(repair ? { ...report, repair } : report, null, 2));
      else {
        if (repair) {
          out.out(`${repair.dryRun ? 'would repair' : 'repaired'} ${repair.repaired.length} of ${repair.scanned} lead(s)`
            + repair.repaired.map((r) => `\n  ${r.leadId}: ${r.jobsAdded.length > 0 ? `queued for ${r.jobsAdded.join(', ')}` : 'every job was there'}, marked accepted`).join(''));
        }
        const rows = report.destinations.map((d) => ({ ...d, destination: d.configured ? d.destination : `${d.destination} (not in config)` }));
        out.out([
          table(rows, ['destination', 'accepted', ...AUDIT_BUCKETS]),
          '',
          report.balanced
            ? `every accepted lead is accounted for (${report.leads} lead${report.leads === 1 ? '' : 's'} within leads.retention)`
            : `${report.lostTotal} deliver${report.lostTotal === 1 ? 'y is' : 'ies are'} in none of the buckets:\n${table(report.lost.map((l) => ({ ...l })), ['destination', 'leadId', 'recordState'])}`
              + (report.lostTotal > report.lost.length ? `\n… and ${report.lostTotal - report.lost.length} more (see --json)` : ''),
          ...report.destinations.filter((d) => d.unaccountedJobs > 0)
            .map((d) => `${d.destination}: ${d.unaccountedJobs} job(s) for leads not (or no longer) accepted (a post that failed midway, or a lead past leads.retention)`),
        ].join('\n'));
      }
      if (!report.balanced) throw new CliFailure(`audit: ${report.lostTotal} accepted deliver${report.lostTotal === 1 ? 'y' : 'ies'} unaccounted for`);
    }));
}
