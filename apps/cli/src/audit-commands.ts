import type { Command } from 'commander';
import { AUDIT_BUCKETS, LeadAudit } from '@leadrelay/queue';
import { CliFailure } from './cli-failure.js';
import type { CommandContext } from './main.js';
import { table } from './output.js';
import { withRelay } from './with-relay.js';

/** `audit`: per destination accepted = delivered + dead + pending + skipped, and every lead in none of them. */
export function registerAuditCommands(program: Command, ctx: CommandContext): void {
  program.command('audit').description('per destination: accepted = delivered + dead + pending + skipped, and every lead that is in none of them')
    .action(async () => withRelay(ctx, async (relay) => {
      const audit = new LeadAudit(relay.redis, relay.keys, { configured: relay.config.destinations.map((d) => d.id) });
      const report = await audit.run().finally(() => audit.close());
      const out = ctx.output();
      if (ctx.json()) out.out(JSON.stringify(report, null, 2));
      else {
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
