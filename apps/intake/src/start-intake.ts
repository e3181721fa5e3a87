import type { FastifyInstance } from 'fastify';
import { assertDevCredentialsStayLocal, type LeadRelayConfig } from '@leadrelay/config';
import type { LeadRelayMetrics, Logger, RunningService } from '@leadrelay/observability';
import { DurabilityUnsupportedError, Relay, withTimeout } from '@leadrelay/queue';
import { buildIntakeServer, createIntakeLogger } from './intake-server.js';

export interface StartIntakeOptions {
  /** Default: pino JSON on stdout with the config's secrets redacted. */
  logger?: Logger;
  metrics?: LeadRelayMetrics;
  /** Default: a fail-fast Relay of its own, closed on shutdown. */
  relay?: Relay;
  /**
   * Close on SIGTERM/SIGINT (default true). A process running several servers (`leadrelay start`)
   * may pass false and call `stop()` itself. A second signal while closing kills the process as usual.
   */
  handleSignals?: boolean;
  /** Overrides `intake.host` / `intake.port` (port 0: any free port, see `address`). */
  host?: string;
  port?: number;
}

export interface RunningIntake extends RunningService {
  readonly name: 'intake';
  app: FastifyInstance;
  /** `http://host:port` actually listened on. */
  readonly address: string;
  /** Stops taking connections, lets in-flight requests finish, closes Redis. Idempotent. */
  stop(): Promise<void>;
  /** Resolves once the server has closed (after a signal or `stop()`). */
  closed: Promise<void>;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Runs intake on `intake.host:intake.port` (the CLI's `leadrelay intake`). */
export async function startIntake(config: LeadRelayConfig, options: StartIntakeOptions = {}): Promise<RunningIntake> {
  assertDevCredentialsStayLocal('intake', config.intake.host, 'API key', config.intake.apiKeys);
  const logger = options.logger ?? createIntakeLogger(config);
  const app = buildIntakeServer({ config, logger, ...(options.metrics ? { metrics: options.metrics } : {}), ...(options.relay ? { relay: options.relay } : {}) });

  let closing: Promise<void> | undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => { markClosed = resolve; });
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'intake shutting down');
    void stop();
  };
  const stop = (): Promise<void> => {
    closing ??= (async () => {
      for (const s of SIGNALS) process.off(s, onSignal);
      try {
        await app.close();
        logger.info('intake stopped');
      } finally {
        markClosed();
      }
    })();
    return closing;
  };

  await verifyDurability(app, config, logger, options.relay);
  const address = await app.listen({ host: options.host ?? config.intake.host, port: options.port ?? config.intake.port });
  if (options.handleSignals ?? true) for (const s of SIGNALS) process.once(s, onSignal);
  // Not fatal: intake answers 503 (and /readyz says not ready) until Redis is back.
  if ((await app.inject({ method: 'GET', url: '/readyz' })).statusCode !== 200) logger.warn('Redis does not answer yet; leads get 503 until it does');
  return { name: 'intake', app, address, stop, closed };
}

/**
 * `intake.durability: aof` needs a Redis that can keep it: refuse to start on one that cannot (the error
 * names the setting). A Redis that does not answer yet is checked again on the first lead.
 */
async function verifyDurability(app: FastifyInstance, config: LeadRelayConfig, logger: Logger, given?: Relay): Promise<void> {
  if ((config.intake.durability ?? 'none') === 'none') return;
  // The server checks again (cached) on its own connection; this one only reads the server's settings.
  const relay = given ?? new Relay(config);
  try {
    await withTimeout(relay.durability.verify(), 5000);
  } catch (e) {
    if (e instanceof DurabilityUnsupportedError) {
      await app.close();
      throw e;
    }
    logger.warn({ err: (e as Error).message }, 'could not check intake.durability yet (Redis does not answer); checked again on the first lead');
  } finally {
    if (!given) await relay.close();
  }
}
