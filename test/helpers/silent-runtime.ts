import { createRuntime, type Runtime } from '@leadrelay/observability';

/** An app runtime (logger, metrics, redactor) that logs nothing: for tests that start an app in-process. */
export function silentRuntime(config: unknown, name = 'test'): Runtime {
  return createRuntime({ name, secretsFrom: config, level: 'silent' });
}
