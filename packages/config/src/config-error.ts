import { ErrorCodes } from '@leadrelay/core';

/** One problem in a config file, located as a person would look for it. */
export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  /** Dotted path of the offending key, e.g. `destinations[1].url`, when known. */
  path?: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** Thrown by `loadConfig`; `message` lists every problem as `file:line:col message`. */
export class ConfigError extends Error {
  readonly code = ErrorCodes.CONFIG_INVALID;
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}
