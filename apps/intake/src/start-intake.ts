import type { FastifyInstance } from 'fastify';
import { assertDevCredentialsStayLocal, type LeadRelayConfig } from '@leadrelay/config';
import { createRuntime, logStarted, startTracing, type Logger, type RunningService, type Runtime } from '@leadrelay/observability';
import { DurabilityUnsupportedError, Relay, withTimeout } from '@leadrelay/queue';
import { buildIntakeServer } from './intake-server.js';

export interface StartIntakeOptions {
  config: LeadRelayConfig;
  /** Logger, metrics and secret redaction; default `createRuntime({ name: 'intake' })`, as every app. */
  runtime?: Runtime;
  /** Default: a fail-fast Relay of its own, closed on shutdown. */
  relay?: Relay;
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
}

/**
 * Runs intake on `intake.host:intake.port` (the CLI's `leadrelay intake`). Signals are the caller's, as for every app
 * (runUntilSignal): a process running several apps (`leadrelay start`) stops them all together.
 */
export async function startIntake(options: StartIntakeOptions): Promise<RunningIntake> {
  const { config } = options;
  assertDevCredentialsStayLocal('intake', config.intake.host, 'API key', config.intake.apiKeys);
  const runtime = options.runtime ?? createRuntime({ name: 'intake', secretsFrom: config });
  const { logger } = runtime;
  // Before the server is built: it adds its request spans only while tracing is on (README: Operations → Traces).
  const tracing = await startTracing({ app: runtime.name ?? 'intake' });
  const app = buildIntakeServer({ config, logger, metrics: runtime.metrics, ...(options.relay ? { relay: options.relay } : {}) });

  let closing: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    closing ??= (async () => {
      await app.close();
      await tracing.stop();
      logger.info('intake stopped');
    })();
    return closing;
  };

  let address: string;
  try {
    await verifyDurability(app, config, logger, options.relay);
    address = await app.listen({ host: options.host ?? config.intake.host, port: options.port ?? config.intake.port });
  } catch (e) {
    await tracing.stop();
    throw e;
  }
  const running: RunningIntake = { name: 'intake', app, address, stop };
  logStarted(logger, running, { durability: config.intake.durability ?? 'none' });
  // Not fatal: intake answers 503 (and /readyz says not ready) until Redis is back.
  if ((await app.inject({ method: 'GET', url: '/readyz' })).statusCode !== 200) logger.warn('Redis does not answer yet; leads get 503 until it does');
  return running;
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
