import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LeadRelayConfig } from '@leadrelay/config';
import { ErrorCodes } from '@leadrelay/core';
import { Relay } from '@leadrelay/queue';
import { RedisServer, redisServerOnPath, silentRuntime } from '../../../test/helpers/index.js';
import { canonical, intakeConfig, KEY_ONE } from '../test/intake-fixture.js';
import { startIntake, type RunningIntake } from './index.js';

const withDurability = (config: LeadRelayConfig, durability: string, timeoutMs = 500): LeadRelayConfig =>
  ({ ...config, intake: { ...config.intake, durability, durabilityTimeout: timeoutMs } });

const post = (address: string, body: unknown) => fetch(`${address}/v1/leads`, {
  method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY_ONE}` }, body: JSON.stringify(body),
});

/** The text of every append-only file of a redis-server's directory. */
function aofText(server: RedisServer): string {
  const dir = join(server.dir, 'appendonlydir');
  return readdirSync(dir).map((f) => readFileSync(join(dir, f), 'latin1')).join('');
}

/** `intake.durability`: what a 202 waits for, against redis-server processes of the test's own. */
describe.skipIf(!redisServerOnPath())('intake.durability', () => {
  const servers: RedisServer[] = [];
  let running: RunningIntake | undefined;
  let relay: Relay | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await relay?.close();
    relay = undefined;
    for (const s of servers.splice(0)) await s.destroy();
  });
  const server = async (options: Parameters<typeof RedisServer.start>[0]) => {
    const s = await RedisServer.start(options);
    servers.push(s);
    return s;
  };
  const start = (config: LeadRelayConfig) => startIntake({ config, host: '127.0.0.1', port: 0, runtime: silentRuntime(config) });

  it('aof refuses to start on a Redis without appendonly, or (before 7.2, no WAITAOF) without appendfsync always', async () => {
    const plain = await server({ appendonly: false });
    await expect(start(withDurability(intakeConfig(plain.url), 'aof'))).rejects.toMatchObject({ code: ErrorCodes.DURABILITY_UNSUPPORTED, message: expect.stringMatching(/appendonly no: set appendonly yes/) });
    const everysec = await server({ appendonly: true, args: ['--appendfsync', 'everysec'] });
    const version = /redis_version:([0-9.]+)/.exec(await (relay = new Relay(intakeConfig(everysec.url))).redis.info('server'))![1]!;
    const [major = 0, minor = 0] = version.split('.').map(Number);
    if (major < 7 || (major === 7 && minor < 2)) {
      await expect(start(withDurability(intakeConfig(everysec.url), 'aof'))).rejects.toMatchObject({ code: ErrorCodes.DURABILITY_UNSUPPORTED, message: expect.stringMatching(/appendfsync everysec: set appendfsync always/) });
    } else {
      // WAITAOF waits for the fsync itself: everysec is enough.
      running = await start(withDurability(intakeConfig(everysec.url), 'aof'));
      expect((await post(running.address, canonical())).status).toBe(202);
    }
  });

  it('aof with appendfsync always: the 202 comes after the lead is in the append-only file', async () => {
    const disk = await server({ appendonly: true });
    running = await start(withDurability(intakeConfig(disk.url), 'aof'));
    const r = await post(running.address, canonical({ id: 'durable-aof-lead-1' }));
    expect(r.status).toBe(202);
    expect(aofText(disk)).toContain('durable-aof-lead-1');
  });

  it('replicas:1 answers 503 problem+json while no replica acknowledges (the lead is kept), 202 once one does', async () => {
    const master = await server({ appendonly: false });
    const config = withDurability(intakeConfig(master.url), 'replicas:1', 2000);
    running = await start(config);
    const r = await post(running.address, canonical({ id: 'durable-replica-lead-1' }));
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = await r.json() as Record<string, unknown>;
    expect(problem).toMatchObject({ code: ErrorCodes.NOT_DURABLE, leadId: 'durable-replica-lead-1', wanted: 1, acknowledged: 0, type: expect.stringMatching(/not-durable$/) });
    expect(String(problem.detail)).toMatch(/is stored and will be delivered.*0 of 1 replicas/);
    relay = new Relay(config);
    expect((await relay.status('durable-replica-lead-1'))?.id).toBe('durable-replica-lead-1');

    const replica = await server({ appendonly: false, args: ['--replicaof', '127.0.0.1', String(master.port)] });
    const probe = new Relay(intakeConfig(replica.url));
    for (const until = Date.now() + 10_000; !/master_link_status:up/.test(await probe.redis.info('replication').catch(() => '')) && Date.now() < until;) await new Promise((res) => setTimeout(res, 100));
    await probe.close();
    // The retried post of the same lead is a duplicate (200), now acknowledged by the replica.
    expect((await post(running.address, canonical({ id: 'durable-replica-lead-1' }))).status).toBe(200);
    expect((await post(running.address, canonical({ id: 'durable-replica-lead-2' }))).status).toBe(202);
  }, 30_000);
});
