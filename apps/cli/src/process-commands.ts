import type { Command } from 'commander';
import { ConfigError, loadConfig } from '@leadrelay/config';
import { orphanLines, orphansIfReachable } from './orphan-commands.js';
import { CliFailure } from './cli-failure.js';
import { startLocalDependencies } from './local-dependencies.js';
import type { CommandContext } from './main.js';

/** Something a long-running command started and must stop on SIGTERM. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts each part in turn, runs until SIGTERM/SIGINT, then stops every part (workers drain within
 * worker.shutdownTimeout). The handlers are installed before the first part starts: a worker takes jobs before
 * its start has finished (orphan scan, sources, probe server), and a signal then must stop it, not kill it.
 */
export async function runUntilSignal(starters: Array<() => Promise<Stoppable>>, options: RunUntilSignalOptions = {}): Promise<void> {
  let onSignal!: () => void;
  const signalled = new Promise<void>((resolve) => {
    onSignal = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  const parts: Stoppable[] = [];
  let dependencies: Stoppable | undefined;
  try {
    dependencies = await options.dependencies?.();
    for (const start of starters) parts.push(await start());
  } catch (e) {
    onSignal();
    await Promise.all(parts.map((p) => p.stop()));
    await dependencies?.stop();
    throw e;
  }
  await signalled;
  await Promise.all(parts.map((p) => p.stop()));
  // Only once the workers have drained: they need Redis (and the destinations) to put their jobs back.
  await dependencies?.stop();
  // Everything is stopped; a call a library would not cancel (jsforce takes no AbortSignal) must not hold the
  // process past the shutdown deadline. The timer is unref'd: a process with nothing left exits at once by itself.
  if (options.exitAfterStop ?? true) setTimeout(() => process.exit(process.exitCode ?? 0), ABANDONED_CALL_GRACE_MS).unref();
}

export interface RunUntilSignalOptions {
  /** What the parts need (a local Redis, Azurite, the demo inbox): started before them, stopped after them. Default none. */
  dependencies?: () => Promise<Stoppable>;
  /** Exit the process shortly after every part stopped, whatever a library still holds open. Default true. */
  exitAfterStop?: boolean;
}

/** How long a stopped process waits for abandoned calls before exiting anyway. */
const ABANDONED_CALL_GRACE_MS = 200;

async function startIntakePart(ctx: CommandContext): Promise<Stoppable> {
  const { startIntake } = await import('@leadrelay/intake');
  const running = await startIntake(ctx.config(), { handleSignals: false });
  return { stop: () => running.close() };
}

async function startWorkerPart(ctx: CommandContext, only?: string[]): Promise<Stoppable> {
  const { startWorker } = await import('@leadrelay/worker');
  return startWorker({ config: ctx.config(), ...(only ? { only } : {}) });
}

async function startOpsPart(ctx: CommandContext): Promise<Stoppable> {
  const { startOps } = await import('@leadrelay/ops');
  return startOps({ config: ctx.config() });
}

/** `intake`, `worker`, `ops`, `start`, `validate`. */
export function registerProcessCommands(program: Command, ctx: CommandContext): void {
  program.command('intake').description('run the intake HTTP server')
    .action(async () => runUntilSignal([() => startIntakePart(ctx)]));

  program.command('worker').description('run delivery workers for all (or the named) destinations')
    .option('--only <ids>', 'comma-separated destination ids')
    .action(async (o: { only?: string }) => runUntilSignal([() => startWorkerPart(ctx, o.only?.split(',').map((s) => s.trim()).filter(Boolean))]));

  program.command('ops').description('run the ops server (dashboard + API)')
    .action(async () => runUntilSignal([() => startOpsPart(ctx)]));

  program.command('start').description('intake, worker and ops in one process; starts a local Redis, Azurite and the demo inbox when the config needs them and none runs')
    .option('--data-dir <dir>', 'where a Redis or Azurite started here keeps its data', '.leadrelay')
    .option('--no-local', 'never start Redis, Azurite or the inbox; use what the config points at')
    .action(async (o: { dataDir: string; local: boolean }) => runUntilSignal([() => startIntakePart(ctx), () => startWorkerPart(ctx), () => startOpsPart(ctx)], {
      ...(o.local ? { dependencies: () => startLocalDependencies(ctx.config(), { dataDir: o.dataDir, log: (line) => ctx.output().err(`leadrelay start: ${line}`) }) } : {}),
    }));

  program.command('validate').description('check the config; print each problem as file:line:col message')
    .action(async () => {
      let config;
      try {
        config = loadConfig(ctx.configPath());
      } catch (e) {
        // With --json the problems are data too: on stdout, as the summary of a valid file would be.
        if (e instanceof ConfigError && ctx.json()) {
          ctx.output().out(JSON.stringify({ valid: false, file: ctx.configPath(), problems: e.problems }, null, 2));
          throw new CliFailure(e.message);
        }
        throw e;
      }
      // Leads stranded in queues of destinations no longer in this config (removed, renamed): a warning, not a config error.
      const orphans = await orphansIfReachable(config);
      const summary = { valid: true, file: config.file, destinations: config.destinations.map((d) => ({ id: d.id, type: d.type, enabled: d.enabled })), ...(orphans?.length ? { orphanQueues: orphans } : {}) };
      ctx.output().out(ctx.json() ? JSON.stringify(summary, null, 2)
        : `${config.file} is valid: ${config.destinations.length} destination(s): ${config.destinations.map((d) => `${d.id} (${d.type}${d.enabled ? '' : ', disabled'})`).join(', ')}`);
      if (!ctx.json()) for (const line of orphanLines(orphans ?? [])) ctx.output().err(`warning: ${line}`);
    });
}
