// `npm run test:chaos [-- --schedules N] [--seed S] [vitest options]`: the long resilience runs.
// vitest refuses options it does not know, so the two of the fault schedules travel as environment.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const env = { ...process.env };
const rest = [];
for (let i = 0; i < args.length; i++) {
  const [name, inline] = args[i].split('=', 2);
  const value = () => inline ?? args[++i];
  if (name === '--schedules') env.LEADRELAY_CHAOS_SCHEDULES = value();
  else if (name === '--seed') env.LEADRELAY_CHAOS_SEED = value();
  else if (name === '--first-seed') env.LEADRELAY_CHAOS_FIRST_SEED = value();
  else rest.push(args[i]);
}
const vitest = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const r = spawnSync(process.execPath, [vitest, 'run', '--config', 'vitest.chaos.config.ts', ...rest], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
