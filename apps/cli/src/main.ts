import { Command, CommanderError, Option } from 'commander';
import { ErrorCodes } from '@leadrelay/core';
import { ConfigError, INSECURE_DEV_ENV, defaultConfigPath, loadConfig, type LeadRelayConfig } from '@leadrelay/config';
import { createRequire } from 'node:module';
import { CliFailure } from './cli-failure.js';
import type { CommandContext } from './command-context.js';
import { processOutput, type Output } from './output.js';
import { registerDataCommands } from './data-commands.js';
import { registerProcessCommands } from './process-commands.js';
import { registerDestinationCommands } from './destination-commands.js';
import { registerSourceCommands } from './source-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { registerOrphanCommands } from './orphan-commands.js';
import { registerLeadCommands } from './lead-commands.js';

export function buildProgram(output?: Output): { program: Command; ctx: CommandContext } {
  const program = new Command('leadrelay')
    .description('Relays Microsoft marketplace leads to every CRM you use, durably.')
    .addOption(new Option('--config <path>', 'config file (default: $LEADRELAY_CONFIG, else ./leadrelay.yaml)'))
    .option('--json', 'print data as JSON')
    .option('--insecure-dev', 'let intake and ops listen beyond loopback with the bundled dev key and password (throwaway setups only)')
    .version(cliVersion(), '-V, --version', 'print the LeadRelay version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => (output ?? processOutput(false)).out(s.trimEnd()), writeErr: (s) => (output ?? processOutput(false)).err(s.trimEnd()) });
  let loaded: LeadRelayConfig | undefined;
  const ctx: CommandContext = {
    configPath: () => program.opts<{ config?: string }>().config ?? defaultConfigPath(),
    json: () => Boolean(program.opts<{ json?: boolean }>().json),
    output: () => output ?? processOutput(ctx.json()),
    config: () => (loaded ??= loadConfig(ctx.configPath())),
  };
  registerProcessCommands(program, ctx);
  registerDestinationCommands(program, ctx);
  registerDataCommands(program, ctx);
  registerSourceCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerOrphanCommands(program, ctx);
  registerLeadCommands(program, ctx);
  // Subcommands accept --json/--config after their own name too.
  for (const c of program.commands) applyGlobalOptions(c);
  return { program, ctx };
}

function applyGlobalOptions(c: Command): void {
  if (!c.options.some((o) => o.long === '--json')) c.option('--json', 'print data as JSON');
  if (!c.options.some((o) => o.long === '--config')) c.option('--config <path>', 'config file');
  if (!c.options.some((o) => o.long === '--insecure-dev')) c.option('--insecure-dev', 'allow the bundled dev key and password beyond loopback');
  c.exitOverride();
  c.hook('preAction', (_this, action) => {
    const own = action.opts<{ json?: boolean; config?: string; insecureDev?: boolean }>();
    const root = action.parent?.parent ?? action.parent;
    if (own.json) root?.setOptionValue('json', true);
    if (own.config) root?.setOptionValue('config', own.config);
    // Read where each process starts listening (assertDevCredentialsStayLocal), so one switch covers intake, ops and start.
    if (own.insecureDev || root?.opts<{ insecureDev?: boolean }>().insecureDev) process.env[INSECURE_DEV_ENV] = '1';
  });
  for (const sub of c.commands) applyGlobalOptions(sub);
}

/** The version in apps/cli/package.json (src/ and dist/ are both one level below it). */
function cliVersion(): string {
  try {
    return (createRequire(import.meta.url)('../package.json') as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 explained failure, 2 bad usage). */
export async function main(argv: string[], output?: Output): Promise<number> {
  const { program, ctx } = buildProgram(output);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    const out = output ?? processOutput(false);
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    if (e instanceof ConfigError) {
      out.err(e.message);
      return 1;
    }
    if (e instanceof CliFailure) {
      out.err(e.message);
      return e.exitCode;
    }
    const err = e as Error & { code?: string };
    if (err.code === ErrorCodes.UNKNOWN_DESTINATION) {
      out.err(err.message);
      return 2;
    }
    out.err(`leadrelay: ${err.message}${ctx.json() ? '' : ''}`);
    return 1;
  }
}
