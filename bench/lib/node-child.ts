import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Bytes of a child's output kept for error messages. */
const TAIL_BYTES = 8192;

export interface NodeChildOptions {
  /** Extra environment (merged over this process's, so NODE_EXTRA_CA_CERTS is inherited). */
  env?: Record<string, string>;
  cwd?: string;
  /** How often RSS is sampled from /proc (default 100 ms). */
  sampleEveryMs?: number;
}

/** Memory of a process from /proc/<pid>/status, in MiB. */
export interface MemorySample {
  /** Resident set size now. */
  rssMiB: number;
  /** Peak resident set size since the process started (VmHWM). */
  peakMiB: number;
}

/** CPU time (user + system) a process has used since it started, in seconds, from /proc/<pid>/stat. */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // After "pid (comm) ": state is field 0, utime field 11, stime field 12 (clock ticks, 100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

export function readMemory(pid: number): MemorySample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/**
 * A Node process run by a benchmark (the worker or intake under test, or a baseline), so its CPU and
 * memory are its own. Keeps the tail of its output for messages, samples its RSS, and is always stopped
 * (SIGTERM, then SIGKILL after a grace period).
 */
export class NodeChild {
  private readonly proc: ChildProcess;
  private output = '';
  private exit?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exited: Promise<void>;
  private readonly sampler: NodeJS.Timeout;
  /** Highest VmRSS and VmHWM seen while sampling. */
  peak: MemorySample = { rssMiB: 0, peakMiB: 0 };
  last?: MemorySample;

  constructor(readonly label: string, args: string[], options: NodeChildOptions = {}) {
    // The test runner's own variables (NODE_ENV=test, VITEST*) are not the child's business: run it as in production.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_ENV' && !k.startsWith('VITEST')));
    this.proc = spawn(process.execPath, args, {
      cwd: options.cwd ?? process.cwd(),
      env: { ...inherited, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => { this.exit = { code, signal }; resolve(); }));
    this.sampler = setInterval(() => this.sample(), options.sampleEveryMs ?? 100);
    this.sampler.unref();
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The last few KiB the process printed. */
  get tail(): string {
    return this.output;
  }

  sample(): MemorySample | undefined {
    if (!this.running) return this.last;
    const m = readMemory(this.pid);
    if (m) {
      this.last = m;
      this.peak = { rssMiB: Math.max(this.peak.rssMiB, m.rssMiB), peakMiB: Math.max(this.peak.peakMiB, m.peakMiB) };
    }
    return m;
  }

  /** CPU seconds the process has used so far (NaN once it has exited). */
  cpuSeconds(): number {
    return (this.running ? readCpuSeconds(this.pid) : undefined) ?? NaN;
  }

  /** Resolves once the output contains `pattern`; rejects if the process exits or `timeoutMs` passes. */
  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      this.assertRunning();
      if (Date.now() > deadline) throw new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms. Output:\n${this.tail}`);
      await sleep(20);
    }
  }

  /** Resolves once GET `url` answers 200; rejects if the process exits or `timeoutMs` passes. */
  async waitForHttp(url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.assertRunning();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${this.label}: ${url} not ready within ${timeoutMs} ms. Output:\n${this.tail}`);
      await sleep(50);
    }
  }

  assertRunning(): void {
    if (!this.running) throw new Error(`${this.label} exited (code ${this.exit?.code}, signal ${this.exit?.signal}). Output:\n${this.tail}`);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. Returns the exit code (null when killed). */
  async stop(graceMs = 10_000): Promise<number | null> {
    clearInterval(this.sampler);
    if (this.running) {
      this.sample();
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exit?.code ?? null;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
