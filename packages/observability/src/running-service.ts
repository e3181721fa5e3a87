/**
 * What every LeadRelay app's start function returns (startIntake, startWorker, startOps, startInbox): one shape,
 * so `leadrelay start` and each app's own entry run them alike under runUntilSignal.
 */
export interface RunningService {
  /** Which app: `intake`, `worker`, `ops` or `inbox`. */
  readonly name: string;
  /** `http://host:port` it listens on (the worker: its probe server), unless it serves nothing. */
  readonly address?: string;
  /**
   * Stops taking work, lets what is in flight finish (the worker: within worker.shutdownTimeout, counted from
   * `signalledAt` when given: a signal that came while the app was still starting), closes its connections. Idempotent.
   */
  stop(signalledAt?: number): Promise<void>;
}

/**
 * The one start line every app logs once it listens (`intake started`, `worker started`…), the same shape for all:
 * `{app, address, …details}` at info, so one grep finds every process's start.
 */
export function logStarted(logger: { info(fields: object, message: string): void }, service: RunningService, details: Record<string, unknown> = {}): void {
  logger.info({ app: service.name, ...(service.address ? { address: service.address } : {}), ...details }, `${service.name} started`);
}

/** Something a long-running command started and must stop on SIGTERM: a RunningService, or a helper it needs (a local Redis). */
export type Stoppable = Pick<RunningService, 'stop'>;

/**
 * Starts each part in turn, runs until SIGTERM/SIGINT, then stops every part (workers drain within
 * worker.shutdownTimeout). The handlers are installed before the first part starts: a worker takes jobs before
 * its start has finished (orphan scan, sources, probe server), and a signal then must stop it, not kill it.
 */
export async function runUntilSignal(starters: Array<() => Promise<Stoppable>>, options: RunUntilSignalOptions = {}): Promise<void> {
  let onSignal!: () => void;
  let signalledAt: number | undefined;
  const signalled = new Promise<void>((resolve) => {
    onSignal = () => {
      signalledAt ??= Date.now();
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
  // The shutdown deadline runs from the signal, also when it came while a part was still starting.
  await Promise.all(parts.map((p) => p.stop(signalledAt)));
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
