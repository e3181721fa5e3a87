import type { Command } from 'commander';
import { ConfigError, loadConfig } from '@leadrelay/config';
import { CliFailure } from './cli-failure.js';
import type { CommandContext } from './main.js';

/** Something a long-running command started and must stop on SIGTERM. */
interface Stoppable {
  stop(): Promise<void>;
}

/** Runs until SIGTERM/SIGINT, then stops every part (workers drain within worker.shutdownTimeout) and resolves. */
async function runUntilSignal(parts: Stoppable[]): Promise<void> {
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await Promise.all(parts.map((p) => p.stop()));
}

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
    .action(async () => runUntilSignal([await startIntakePart(ctx)]));

  program.command('worker').description('run delivery workers for all (or the named) destinations')
    .option('--only <ids>', 'comma-separated destination ids')
    .action(async (o: { only?: string }) => runUntilSignal([await startWorkerPart(ctx, o.only?.split(',').map((s) => s.trim()).filter(Boolean))]));

  program.command('ops').description('run the ops server (dashboard + API)')
    .action(async () => runUntilSignal([await startOpsPart(ctx)]));

  program.command('start').description('intake, worker and ops in one process')
    .action(async () => runUntilSignal([await startIntakePart(ctx), await startWorkerPart(ctx), await startOpsPart(ctx)]));

  program.command('validate').description('check the config; print each problem as file:line:col message')
    .action(() => {
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
      const summary = { valid: true, file: config.file, destinations: config.destinations.map((d) => ({ id: d.id, type: d.type, enabled: d.enabled })) };
      ctx.output().out(ctx.json() ? JSON.stringify(summary, null, 2)
        : `${config.file} is valid: ${config.destinations.length} destination(s): ${config.destinations.map((d) => `${d.id} (${d.type}${d.enabled ? '' : ', disabled'})`).join(', ')}`);
    });
}
