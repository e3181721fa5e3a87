import type { LeadRelayConfig } from '@leadrelay/config';
import type { Output } from './output.js';

/** Shared by every command: where the config is and whether to print JSON. */
export interface CommandContext {
  /** Loads (once) and returns the config, or fails with every problem as file:line:col. */
  config(): LeadRelayConfig;
  configPath(): string;
  json(): boolean;
  output(): Output;
}
