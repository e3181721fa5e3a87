import type { Bindings, ChildLoggerOptions, Level, LogFn, Logger as PinoLogger } from 'pino';

const LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * A request's child logger that becomes a pino child only when the request writes a line at an
 * enabled level. Fastify makes a child per request; with the config's secrets redacted, pino
 * prepares each child's bindings through its redaction (several µs per request) even when nothing
 * is logged, which is most requests below `info` and every one at `warn`.
 */
export class DeferredChildLogger {
  private made?: PinoLogger;
  readonly fatal: LogFn;
  readonly error: LogFn;
  readonly warn: LogFn;
  readonly info: LogFn;
  readonly debug: LogFn;
  readonly trace: LogFn;

  constructor(private readonly parent: PinoLogger, private readonly bindings: Bindings, private readonly options: ChildLoggerOptions) {
    const write = (level: Level): LogFn => ((...args: Parameters<LogFn>) => {
      if (!this.parent.isLevelEnabled(level)) return;
      (this.real()[level] as (...a: unknown[]) => void)(...args);
    }) as LogFn;
    [this.fatal, this.error, this.warn, this.info, this.debug, this.trace] = LEVELS.map(write) as [LogFn, LogFn, LogFn, LogFn, LogFn, LogFn];
  }

  get level(): string {
    return this.made?.level ?? this.parent.level;
  }

  silent(): void {
    // Nothing is written at `silent`.
  }

  isLevelEnabled(level: string): boolean {
    return (this.made ?? this.parent).isLevelEnabled(level);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): PinoLogger {
    return this.real().child(bindings, options);
  }

  private real(): PinoLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }
}

/**
 * Fastify's `childLoggerFactory` making DeferredChildLoggers; a route with its own log level gets a
 * pino child at once (its level decides what the request writes).
 */
export function deferredChildLoggerFactory(logger: PinoLogger, bindings: Bindings, options: ChildLoggerOptions): PinoLogger {
  if (options.level !== undefined) return logger.child(bindings, options);
  return new DeferredChildLogger(logger, bindings, options) as unknown as PinoLogger;
}
