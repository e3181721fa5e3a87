import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { freePort } from './free-port.js';

export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(host: string, port: number): string {
  return `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${AZURITE_ACCOUNT_KEY};TableEndpoint=http://${host}:${port}/devstoreaccount1;`;
}

/** A real Azurite table service in a child process, in memory, on a free loopback port. */
export class Azurite {
  private constructor(private readonly proc: ChildProcess, readonly port: number) {}

  static async start(): Promise<Azurite> {
    const port = await freePort();
    const require = createRequire(import.meta.url);
    const pkg = dirname(require.resolve('azurite/package.json'));
    const proc = spawn(process.execPath, [join(pkg, 'dist/src/table/main.js'), '--tableHost', '127.0.0.1', '--tablePort', String(port),
      '--inMemoryPersistence', '--skipApiVersionCheck', '--disableTelemetry', '--silent'], { stdio: 'ignore' });
    const az = new Azurite(proc, port);
    for (let i = 0; i < 200; i++) {
      try {
        await fetch(`http://127.0.0.1:${port}/devstoreaccount1/Tables`, { signal: AbortSignal.timeout(300) });
        return az;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    proc.kill('SIGKILL');
    throw new Error('Azurite did not start');
  }

  get connectionString(): string {
    return azuriteConnectionString('127.0.0.1', this.port);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    await new Promise<void>((resolve) => { this.proc.once('exit', () => resolve()); this.proc.kill('SIGTERM'); });
  }
}
