import { sourceState } from '@leadrelay/sources';
import type { Command } from 'commander';
import { makeTestLead, parseDuration } from '@leadrelay/core';
import type { LeadRelayConfig, ResolvedDestination } from '@leadrelay/config';
import { getDestinationType, MemoryRollingQuota, type CheckResult } from '@leadrelay/destinations';
import { createRuntime } from '@leadrelay/observability';
import { CliFailure } from './cli-failure.js';
import type { CommandContext } from './command-context.js';
import { progress, table } from './output.js';
import { withRelay } from './with-relay.js';
import type { Relay } from '@leadrelay/queue';

const CHECK_TIMEOUT_MS = 30_000;

function pick(config: LeadRelayConfig, ids: string[]): ResolvedDestination[] {
  if (ids.length === 0) return config.destinations.filter((d) => d.enabled);
  const known = config.destinations.map((d) => d.id);
  const unknown = ids.filter((id) => !known.includes(id));
  if (unknown.length) throw new CliFailure(`unknown destination${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (configured: ${known.join(', ')})`, 2);
  return config.destinations.filter((d) => ids.includes(d.id));
}

/** Runs one destination's own `check()`: credentials and reachability, no lead created. */
export async function checkDestination(config: LeadRelayConfig, d: ResolvedDestination): Promise<CheckResult> {
  const runtime = createRuntime({ name: 'cli', secretsFrom: config, level: 'silent' });
  const client = await getDestinationType(d.type)!.create(d, {
    logger: runtime.logger, placeholder: config.defaults.placeholder,
    rollingQuota: (_name, limit, windowMs) => new MemoryRollingQuota(limit, windowMs),
    network: config.network,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, message: `no answer within ${CHECK_TIMEOUT_MS / 1000}s`, remediation: 'Check that the destination URL is right and reachable from this machine.' }), CHECK_TIMEOUT_MS);
    });
    const result: CheckResult = await Promise.race([client.check().catch((e: Error & { remediation?: string }): CheckResult => ({ ok: false, message: e.message, remediation: e.remediation })), timeout]);
    return {
      ...result, message: runtime.redactor.redact(result.message),
      ...(result.remediation ? { remediation: runtime.redactor.redact(result.remediation) } : {}),
      ...(result.warnings?.length ? { warnings: result.warnings.map((w) => runtime.redactor.redact(w)) } : {}),
    };
  } finally {
    clearTimeout(timer);
    await client.close?.();
  }
}

/** Why a test lead has not reached an outcome yet: a throttle (until when), a pause, a failing destination, or no worker. */
async function whyWaiting(relay: Relay, id: string): Promise<string> {
  const s = await relay.stats(id);
  if (s.state === 'throttled') return `${id}: still waiting: the destination is throttled until ${s.throttledUntil}; the test lead is delivered after that.`;
  if (s.state === 'paused') return `${id}: still waiting: the destination is paused: ${s.pausedReason ?? ''}`;
  if (s.state === 'failing') return `${id}: still retrying: most recent attempts failed (${s.lastError ?? 'see leadrelay stats'}).`;
  return `${id}: still queued: is a worker running (\`leadrelay worker\`)?`;
}

/** `check`, `test-lead`, `pause`, `resume`: acting on destinations. */
export function registerDestinationCommands(program: Command, ctx: CommandContext): void {
  program.command('check').argument('[ids...]').description("prove each destination's credentials and reachability without creating a lead")
    .action(async (ids: string[]) => {
      const config = ctx.config();
      const results = [];
      for (const d of pick(config, ids)) results.push({ destination: d.id, type: d.type, ...(await checkDestination(config, d)) });
      if (ctx.json()) ctx.output().out(JSON.stringify(results, null, 2));
      else {
        for (const r of results) {
          ctx.output().out(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.destination} (${r.type}): ${r.message}`);
          if (!r.ok && r.remediation) ctx.output().out(`      what to do: ${r.remediation}`);
          for (const w of r.warnings ?? []) ctx.output().out(`      warning: ${w}`);
        }
      }
      if (results.some((r) => !r.ok)) throw new CliFailure(`${results.filter((r) => !r.ok).length} of ${results.length} destinations failed the check`);
    });

  program.command('test-lead').argument('[ids...]').description('enqueue a MSFT_TEST_<ticks> test lead to the named (default: all) destinations and wait for the outcome')
    .option('--timeout <duration>', 'how long to wait for the outcome', '2m')
    .action(async (ids: string[], o: { timeout: string }) => {
      const timeoutMs = parseDuration(o.timeout);
      if (timeoutMs === undefined) throw new CliFailure(`--timeout: '${o.timeout}' is not a duration like 30s or 2m`, 2);
      const targets = pick(ctx.config(), ids).map((d) => d.id);
      await withRelay(ctx, async (relay) => {
        const base = makeTestLead();
        const lead = { ...base, id: base.customer.firstName! };
        await relay.accept(lead, { clientId: true, only: targets, origin: 'cli' });
        const bar = progress(ctx.output(), `waiting for ${targets.length} destination(s): done`, targets.length);
        const deadline = Date.now() + timeoutMs;
        const final = (s: string) => s === 'delivered' || s === 'dead' || s === 'paused';
        // Only the targeted destinations: the others show as skipped for this lead.
        const targeted = async () => Object.fromEntries(Object.entries((await relay.status(lead.id))?.deliveries ?? {}).filter(([d]) => targets.includes(d)));
        let deliveries = await targeted();
        while (Object.values(deliveries).some((r) => !final(r.state)) && Date.now() < deadline) {
          bar.update(Object.values(deliveries).filter((r) => final(r.state)).length);
          await new Promise((r) => setTimeout(r, 250));
          deliveries = await targeted();
        }
        bar.end();
        const rows = Object.entries(deliveries).map(([destination, r]) => ({ destination, ...r }));
        if (ctx.json()) ctx.output().out(JSON.stringify({ id: lead.id, deliveries }, null, 2));
        else {
          ctx.output().out(`test lead ${lead.id}\n${table(rows, ['destination', 'state', 'attempts', 'remoteId', 'lastError'])}`);
          for (const r of rows) if (r.state !== 'delivered' && r.remediation) ctx.output().out(`${r.destination}: what to do: ${r.remediation}`);
          for (const r of rows.filter((x) => !final(x.state))) ctx.output().out(await whyWaiting(relay, r.destination));
        }
        const failed = rows.filter((r) => r.state !== 'delivered');
        if (failed.length) throw new CliFailure(`test lead not delivered to ${failed.map((r) => r.destination).join(', ')}`);
      });
    });

  program.command('pause').argument('<id>').description('stop delivery to one destination; leads keep queueing')
    .option('--reason <text>', 'why (shown in stats, status and the dashboard)')
    .action(async (id: string, o: { reason?: string }) => withRelay(ctx, async (relay) => {
      relay.destination(id);
      const reason = o.reason?.trim().slice(0, 200) || 'paused by an operator (leadrelay pause)';
      await relay.pause(id, { by: 'operator', reason });
      ctx.output().out(ctx.json() ? JSON.stringify({ destination: id, state: 'paused' }) : `${id} paused; leads keep queueing until \`leadrelay resume ${id}\``);
    }));

  program.command('resume').argument('<id>').description('restart delivery to one destination, or polling of a paused source')
    .action(async (id: string) => withRelay(ctx, async (relay) => {
      if (relay.config.sources.some((s) => s.id === id) && !relay.config.destinations.some((d) => d.id === id)) {
        await sourceState(relay, id).resume();
        ctx.output().out(ctx.json() ? JSON.stringify({ source: id, state: 'running' }) : `source ${id} resumed; it polls again at its next scheduled poll`);
        return;
      }
      relay.destination(id);
      await relay.resume(id);
      ctx.output().out(ctx.json() ? JSON.stringify({ destination: id, state: 'running' }) : `${id} resumed`);
    }));
}
