import { spawn, type ChildProcess } from 'node:child_process';

/**
 * One compose service run as a plain child process: what the container would run, with its output
 * kept (the end of it) so a failing test can say why a service died or never became ready.
 */
export class ServiceProcess {
  private output = '';
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly name: string, readonly proc: ChildProcess, private readonly keepBytes: number) {
    const keep = (d: Buffer) => { this.output = (this.output + d.toString()).slice(-this.keepBytes); };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** `argv[0]` of `node` is this Node binary (the image's node); `env` is the whole environment (nothing inherited). */
  static start(name: string, argv: readonly string[], options: { cwd: string; env: Record<string, string>; keepBytes?: number }): ServiceProcess {
    const [cmd, ...args] = argv;
    const bin = cmd === 'node' ? process.execPath : cmd!;
    const proc = spawn(bin, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new ServiceProcess(name, proc, options.keepBytes ?? 32_768);
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The end of what the process wrote to stdout and stderr. */
  get outputTail(): string {
    return this.output;
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exit;
  }

  /** Polls `url` until it answers 2xx; fails early, with the process output, if the process exits. */
  async waitFor(url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${url} answered:\n${this.output}`);
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
        if (r.ok) return;
        last = `${r.status} ${await r.text()}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${this.name}: ${url} did not answer 2xx within ${timeoutMs} ms (last: ${last}):\n${this.output}`);
  }

  /** SIGTERM (what `docker compose stop` sends), then SIGKILL after `graceMs`. Resolves with how it ended. */
  async stop(graceMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    if (!this.running) return { ...(await this.exit), killed: false };
    this.proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exit.then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), graceMs); }),
    ]);
    clearTimeout(timer);
    if (timedOut && this.running) this.proc.kill('SIGKILL');
    return { ...(await this.exit), killed: timedOut };
  }
}
