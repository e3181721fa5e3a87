import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { LEADRELAY_CLI } from '../helpers/leadrelay-process.js';
import { redisServerOnPath } from '../helpers/redis-server.js';
import { uniquePrefix } from '../helpers/unique.js';

const ROOT = join(import.meta.dirname, '../..');
const KEY = 'dev-key-change-me-0123456789';

function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(500, () => { s.destroy(); done(false); });
    s.once('connect', () => { s.destroy(); done(true); });
    s.once('error', () => done(false));
  });
}

async function poll<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} within ${timeoutMs} ms${last ? ` (last: ${(last as Error).message})` : ''}`);
}

/**
 * The README's five-minute tour on a machine without Docker: the bundled leadrelay.yaml (its ports moved
 * to free ones, nothing else changed) run by `leadrelay start`, which starts the Redis, the Azurite and the
 * demo inbox the config points at since none runs; Microsoft's lead posted as the tour posts it.
 */
describe.skipIf(!redisServerOnPath())('the tour without Docker: leadrelay start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-tour-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts Redis, Azurite and the inbox, delivers Microsoft\'s lead to the inbox and the table, and Ctrl-C leaves nothing running', async () => {
    const [redisPort, inboxPort, intakePort, opsPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const azuriteWasRunning = await listening(10002);
    const bundled = readFileSync(join(ROOT, 'leadrelay.yaml'), 'utf8');
    const config = bundled.replace(/^(\s+)port: 8080$/m, `$1port: ${intakePort}`).replace(/^(\s+)port: 3000$/m, `$1port: ${opsPort}`)
      .replace(/^(\s+)metricsPort: 9464$/m, `$1metricsPort: ${metricsPort}`);
    expect(config.split('\n').filter((l, i) => l !== bundled.split('\n')[i])).toHaveLength(3);
    const configPath = join(dir, 'leadrelay.yaml');
    writeFileSync(configPath, config);
    const env = { ...process.env, LOG_LEVEL: 'warn', REDIS_URL: `redis://127.0.0.1:${redisPort}`, INBOX_URL: `http://127.0.0.1:${inboxPort}/leads` };
    for (const name of ['INTAKE_API_KEY', 'OPS_PASSWORD', 'INBOX_SIGNING_SECRET', 'AZURE_TABLE_CONNECTION_STRING', 'LEADRELAY_CONFIG']) delete env[name];

    const start = spawn(process.execPath, [LEADRELAY_CLI, 'start', '--config', configPath], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    start.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => start.once('exit', (code) => resolve(code)));
    try {
      await poll('intake ready', 60_000, async () => ((await fetch(`http://127.0.0.1:${intakePort}/readyz`)).ok ? true : undefined));
      expect(stderr).toContain(`started redis-server on 127.0.0.1:${redisPort}`);
      expect(stderr).toContain(`started the demo inbox on http://127.0.0.1:${inboxPort}/`);
      if (!azuriteWasRunning) expect(stderr).toContain('started Azurite');

      const email = `jane.${uniquePrefix('tour')}@fabrikam.example`;
      const posted = await fetch(`http://127.0.0.1:${intakePort}/v1/leads?code=${KEY}&offer=contoso.widget`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          UserDetails: { FirstName: 'Jane', LastName: 'Doe', Email: email, Phone: '16175555555', Country: 'US', Company: 'Fabrikam', Title: 'CTO' },
          LeadSource: 'AzureMarketplace', ActionCode: 'INS', OfferTitle: 'Contoso Widget', Description: 'Contact me',
        }),
      });
      const accepted = await posted.json() as { id: string; destinations: string[] };
      expect(posted.status, JSON.stringify(accepted)).toBe(202);
      expect(accepted.destinations.sort()).toEqual(['inbox', 'table']);

      const inboxLead = await poll('the lead at the inbox', 30_000, async () => {
        const list = await (await fetch(`http://127.0.0.1:${inboxPort}/`)).json() as { leads: { verified: boolean; body: { UserDetails?: { Email?: string } } }[] };
        return list.leads.find((l) => l.body.UserDetails?.Email === email);
      });
      expect(inboxLead.verified).toBe(true);
      const table = TableClient.fromConnectionString('UseDevelopmentStorage=true', 'MarketplaceLeads', { allowInsecureConnection: true });
      const entity = await poll('the lead in the MarketplaceLeads table', 30_000, async () => {
        for await (const e of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `RowKey eq '${accepted.id}'` } })) return e;
        return undefined;
      });
      expect(JSON.parse(String(entity.CustomerInfo))).toMatchObject({ Email: email });

      const status = spawnSync(process.execPath, [LEADRELAY_CLI, 'status', accepted.id, '--config', configPath], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
      expect(status.status, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/inbox\s+delivered/);
      expect(status.stdout).toMatch(/table\s+delivered/);

      // One process, one registry: ops' /metrics shows intake's and the worker's counters with their samples.
      const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      expect(metrics).toMatch(/^leadrelay_leads_received_total\{format="marketplace"\} 1$/m);
      expect(metrics).toMatch(/^leadrelay_deliveries_total\{(?=[^}]*destination="inbox")(?=[^}]*outcome="delivered")[^}]*\} 1$/m);
    } finally {
      start.kill('SIGINT');
    }
    expect(await exited, stderr).toBe(0);
    expect(await listening(redisPort)).toBe(false);
    expect(await listening(inboxPort)).toBe(false);
    if (!azuriteWasRunning) expect(await listening(10002)).toBe(false);
    expect(existsSync(join(dir, '.leadrelay/redis'))).toBe(true);
  }, 150_000);
});
