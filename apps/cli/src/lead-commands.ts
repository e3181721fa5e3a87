import type { Command } from 'commander';
import { InvalidLeadSearchError, LEAD_SEARCH_STATES, LeadEraser, leadSearchFilterFrom, maskLeadSummary, type LeadSearchFilter, type LeadSummary } from '@leadrelay/queue';
import { CliFailure } from './cli-failure.js';
import type { CommandContext } from './command-context.js';
import { table } from './output.js';
import { withRelay } from './with-relay.js';

interface LeadsOptions {
  email?: string;
  offer?: string;
  since?: string;
  state?: string;
  destination?: string;
  limit?: string;
  cursor?: string;
  showPii?: boolean;
}

/** `leads` (search through the lead index) and `erase` (a person's data out of Redis, for GDPR requests). */
export function registerLeadCommands(program: Command, ctx: CommandContext): void {
  program.command('leads').description('find leads by customer email, offer or time received (from the lead index), newest first, paginated')
    .option('--email <addr>', "the customer's email, any casing")
    .option('--offer <glob>', "the lead's offer, * and ? allowed (contoso.*)")
    .option('--since <when>', 'received at or after: a duration ago (1d, 6h) or an ISO time')
    .option('--state <state>', `only leads with a delivery in this state (${LEAD_SEARCH_STATES.join(', ')}); at --destination when given`)
    .option('--destination <id>', 'only leads accepted for this destination')
    .option('--limit <n>', 'leads per page (default 50, at most 1000)')
    .option('--cursor <cursor>', 'the next page: the cursor the previous page printed')
    .option('--show-pii', "show the customer's name and email (masked by default)")
    .action(async (o: LeadsOptions) => withRelay(ctx, async (relay) => {
      const filter = searchFilter(o, relay.config.destinations.map((d) => d.id));
      let page;
      try {
        page = await relay.findLeads(filter);
      } catch (e) {
        if (e instanceof InvalidLeadSearchError) throw new CliFailure(`--${e.field === 'filter' ? 'email, --offer or --since' : e.field}: ${e.message.slice(e.field.length + 2)}`, 2);
        throw e;
      }
      const leads = o.showPii ? page.leads : page.leads.map(maskLeadSummary);
      const body = { leads, ...(page.cursor ? { cursor: page.cursor } : {}) };
      ctx.output().out(ctx.json() ? JSON.stringify(body, null, 2) : leadsText(leads, page.cursor));
    }));

  program.command('erase').description("remove a person's data (GDPR erasure) from lead records, jobs, timelines and dedupe entries; keeps a non-personal tombstone")
    .requiredOption('--email <addr>', "the person's email, any casing")
    .option('--dry-run', 'only count what would be erased')
    .action(async (o: { email: string; dryRun?: boolean }) => withRelay(ctx, async (relay) => {
      if (!o.email.includes('@')) throw new CliFailure(`--email: '${o.email}' is not an email address`, 2);
      const r = await new LeadEraser(relay, { dryRun: o.dryRun ?? false }).eraseEmail(o.email);
      const verb = r.dryRun ? 'would erase' : 'erased';
      const e = r.erased;
      ctx.output().out(ctx.json() ? JSON.stringify(r, null, 2) : [
        r.leadIds.length === 0 ? 'no leads found for this email (within the index horizon: the longer of leads.retention and deadLetters.retention)' : `${verb}: ${r.leadIds.length} lead(s): ${r.leadIds.join(', ')}`,
        ...(r.leadIds.length ? [table([
          { kind: 'lead records (kept as tombstones)', count: e.leads },
          { kind: 'jobs waiting', count: e.jobs.waiting }, { kind: 'jobs delayed', count: e.jobs.delayed },
          { kind: 'jobs dead', count: e.jobs.dead }, { kind: 'jobs completed', count: e.jobs.completed },
          { kind: 'timeline entries', count: e.timelineEntries }, { kind: 'dedupe/identity entries', count: e.dedupeEntries },
          { kind: 'email index entries', count: e.indexEntries }, { kind: 'job events', count: e.jobEvents },
          { kind: 'destination error texts', count: e.destinationErrors },
        ], ['kind', 'count'])] : []),
        ...r.inFlight.map((f) => `lead ${f.leadId} is being delivered to ${f.destination} right now: its job was left alone; run erase again once it finishes`),
        ...(r.dryRun ? ['(dry run: nothing changed)'] : r.leadIds.length ? ['Copies already delivered to CRMs are not touched: erase them there (`leadrelay status <id>` shows each remoteId).'] : []),
      ].join('\n'));
      if (r.inFlight.length > 0 && !r.dryRun) throw new CliFailure(`${r.inFlight.length} job(s) in flight were not erased`, 1);
    }));
}

/** The flags as a filter (leadSearchFilterFrom, shared with the ops API); a flag that cannot be read is a usage error naming it. */
function searchFilter(o: LeadsOptions, destinations: string[]): LeadSearchFilter {
  try {
    return leadSearchFilterFrom(o, destinations);
  } catch (e) {
    if (!(e instanceof InvalidLeadSearchError)) throw e;
    if (e.field === 'filter') throw new CliFailure('leads needs --email <addr>, --offer <glob> or --since <duration> (e.g. --since 1d)', 2);
    throw new CliFailure(`--${e.field}: ${e.message.slice(e.field.length + 2)}`, 2);
  }
}

function leadsText(leads: LeadSummary[], cursor: string | undefined): string {
  if (leads.length === 0) return 'no leads found';
  const rows = leads.map((l) => ({
    id: l.id, received: l.receivedAt, offer: l.offer,
    customer: l.erasedAt ? `(erased ${l.erasedAt})` : [[l.customer?.firstName, l.customer?.lastName].filter(Boolean).join(' '), l.customer?.email].filter(Boolean).join(' '),
    deliveries: Object.entries(l.deliveries).map(([d, s]) => `${d}:${s}`).join(' '),
  }));
  // The same command with --cursor: the filter is not echoed, so an email never lands in a terminal log unasked.
  const again = cursor ? `\nmore: run the same command with --cursor ${cursor}` : '';
  return table(rows, ['id', 'received', 'offer', 'customer', 'deliveries']) + again;
}
