import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';

export type Logger = PinoLogger;

/** Paths pino blanks in every log line: secrets by name, wherever a config object is logged. */
export const REDACT_PATHS = [
  '*.clientSecret', '*.password', '*.connectionString', '*.signingSecret', '*.apiKeys', '*.accessToken', '*.token',
  '*.*.clientSecret', '*.*.password', '*.*.connectionString', 'headers.authorization', 'headers["x-api-key"]',
  'req.headers.authorization', 'req.headers["x-api-key"]',
];

export interface CreateLoggerOptions {
  /** Default `info`, or `$LOG_LEVEL`. Customer data is only logged at `debug`. */
  level?: string;
  name?: string;
  /** Hides registered secret values anywhere in a log line (see SecretRedactor). */
  redactText?: (text: string) => string;
  /** Where lines go (default stdout); tests pass a stream to inspect them. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const { redactText } = options;
  const pinoOptions: LoggerOptions = {
    name: options.name ?? 'leadrelay',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(redactText ? { hooks: { streamWrite: redactText } } : {}),
  };
  return options.destination ? pino(pinoOptions, options.destination as pino.DestinationStream) : pino(pinoOptions);
}

/** A logger that writes nothing, for tests and library defaults. */
export const silentLogger: Logger = pino({ level: 'silent' });
