import type { Command } from 'commander';
import { ConfigError, loadConfig } from '@leadrelay/config';
import { orphanLines, orphansIfReachable } from './orphan-commands.js';
import { CliFailure } from './cli-failure.js';
import { startLocalDependencies } from './local-dependencies.js';
import type { CommandContext } from './command-context.js';
import { createRuntime, runUntilSignal, type RunningService, type Runtime } from '@leadrelay/observability';


async function startIntakePart(ctx: CommandContext, runtime?: Runtime): Promise<RunningService> {
  const { startIntake } = await import('@leadrelay/intake');
  return startIntake({ config: ctx.config(), ...(runtime ? { runtime } : {}) });
}

async function startWorkerPart(ctx: CommandContext, only?: string[], runtime?: Runtime): Promise<RunningService> {
  const { startWorker } = await import('@leadrelay/worker');
  return startWorker({ config: ctx.config(), ...(only ? { only } : {}), ...(runtime ? { runtime } : {}) });
}

async function startOpsPart(ctx: CommandContext, runtime?: Runtime): Promise<RunningService> {
  const { startOps } = await import('@leadrelay/ops');
  return startOps({ config: ctx.config(), ...(runtime ? { runtime } : {}) });
}

/**
 * `leadrelay start`: the three apps share one metrics registry and one redactor, so each of their /metrics shows
 * the whole process (intake's and the worker's counters with their samples, also on ops); each logs as itself.
 */
function sharedRuntimes(ctx: CommandContext): Record<'intake' | 'worker' | 'ops', Runtime> {
  const base = createRuntime({ name: 'start', secretsFrom: ctx.config() });
  const as = (app: string): Runtime => ({ ...base, logger: base.logger.child({ app }) });
  return { intake: as('intake'), worker: as('worker'), ops: as('ops') };
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
    .action(async (o: { dataDir: string; local: boolean }) => {
      const shared = sharedRuntimes(ctx);
      await runUntilSignal([() => startIntakePart(ctx, shared.intake), () => startWorkerPart(ctx, undefined, shared.worker), () => startOpsPart(ctx, shared.ops)], {
        ...(o.local ? { dependencies: () => startLocalDependencies(ctx.config(), { dataDir: o.dataDir, log: (line) => ctx.output().err(`leadrelay start: ${line}`) }) } : {}),
      });
    });

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
