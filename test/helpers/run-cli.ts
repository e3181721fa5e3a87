import { main } from '../../apps/cli/src/main.js';

/** Runs the `leadrelay` CLI in-process, capturing what it prints and its exit code. */
export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'leadrelay', ...args], { out: (t) => { out += `${t}\n`; }, err: (t) => { err += `${t}\n`; }, interactive: false });
  return { code, out, err };
}
