import { SecretRedactor } from '@leadrelay/core';
import { createLogger, type Logger } from './logger.js';
import { LeadRelayMetrics } from './metrics.js';

/** What every LeadRelay process needs: a logger that can't leak the config's secrets, and its metrics. */
export interface Runtime {
  logger: Logger;
  metrics: LeadRelayMetrics;
  redactor: SecretRedactor;
  /** The process name it was created with (`intake`, `worker`, `start`…): tracing's service is `leadrelay-<name>`. */
  name?: string;
}

export interface RuntimeOptions {
  /** Process name in every log line (`intake`, `worker`, `ops`, `cli`). */
  name: string;
  /** The loaded config: every secret in it is redacted from log lines by value. */
  secretsFrom: unknown;
  level?: string;
  destination?: NodeJS.WritableStream;
}

export function createRuntime(options: RuntimeOptions): Runtime {
  const redactor = new SecretRedactor();
  redactor.addFromObject(options.secretsFrom);
  const logger = createLogger({
    name: `leadrelay-${options.name}`, redactText: (t) => redactor.redact(t),
    ...(options.level ? { level: options.level } : {}), ...(options.destination ? { destination: options.destination } : {}),
  });
  return { logger, metrics: new LeadRelayMetrics(), redactor, name: options.name };
}
