import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The CLI entry point; it runs `apps/cli/dist`, so `npm run build` must have run. */
export const LEADRELAY_CLI = join(import.meta.dirname, '../../apps/cli/bin/leadrelay.js');

export interface LeadRelayProcessOptions {
  /** Extra environment on top of this process's (which carries NODE_EXTRA_CA_CERTS from the global setup). */
  env?: Record<string, string>;
  /** Name used in error messages (default: the command). */
  name?: string;
  /** Bytes of stderr kept for error messages (default 8 KiB). */
  stderrBytes?: number;
  /** Values (secrets) to look for in everything the process writes to stderr; see `seen`. */
  watchFor?: string[];
}

/**
 * One `leadrelay <command> --config <file>` child process (worker, intake…), as an operator would
 * run it. Keeps the end of stderr so a test failure can say why a process died.
 */
export class LeadRelayProcess {
  private stderr = '';
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Watched values found in stderr. */
  readonly seen = new Set<string>();

  private constructor(readonly proc: ChildProcess, readonly name: string, private readonly keepBytes: number, watchFor: string[]) {
    const longest = Math.max(0, ...watchFor.map((w) => w.length));
    let carry = '';
    proc.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      this.stderr = (this.stderr + text).slice(-this.keepBytes);
      // Scan across chunk boundaries: keep the last few characters of the previous chunk.
      const scanned = carry + text;
      for (const w of watchFor) if (scanned.includes(w)) this.seen.add(w);
      carry = scanned.slice(-longest);
    });
    this.exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static start(args: string[], options: LeadRelayProcessOptions = {}): LeadRelayProcess {
    if (!existsSync(join(import.meta.dirname, '../../apps/cli/dist/main.js'))) {
      throw new Error('apps/cli/dist is missing: run `npm run build` before process-level tests');
    }
    const proc = spawn(process.execPath, [LEADRELAY_CLI, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'warn', ...options.env },
    });
    return new LeadRelayProcess(proc, options.name ?? args[0] ?? 'leadrelay', options.stderrBytes ?? 8192, options.watchFor ?? []);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The last lines the process wrote to stderr (its warn/error log lines). */
  get stderrTail(): string {
    return this.stderr;
  }

  /** Resolves with the exit code/signal once the process has exited. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exit;
  }

  /** Sends `signal` (SIGKILL: a crash, no cleanup at all) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.running) this.proc.kill(signal);
    await this.exit;
  }

  /** Polls `http://127.0.0.1:<port>/readyz` until 200; fails early if the process exits. */
  async waitReady(port: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited before it was ready (${JSON.stringify(this.proc.exitCode ?? this.proc.signalCode)}):\n${this.stderr}`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.name} was not ready on port ${port} within ${timeoutMs} ms:\n${this.stderr}`);
  }
}

/** Every process a test started, so afterEach/afterAll can kill them all even when the test failed. */
export class LeadRelayProcesses {
  private readonly all: LeadRelayProcess[] = [];

  start(args: string[], options: LeadRelayProcessOptions = {}): LeadRelayProcess {
    const p = LeadRelayProcess.start(args, options);
    this.all.push(p);
    return p;
  }

  /** Every process started, running or not. */
  get started(): readonly LeadRelayProcess[] {
    return this.all;
  }

  /** Processes still running. */
  get running(): LeadRelayProcess[] {
    return this.all.filter((p) => p.running);
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.map((p) => p.kill('SIGKILL')));
    this.all.length = 0;
  }
}
