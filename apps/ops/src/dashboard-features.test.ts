import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';
import { buildOpsServer } from './ops-server.js';

const PASSWORD = 'ops-pw-dashboard-features-4711';
const auth = { authorization: `Basic ${Buffer.from(`ops:${PASSWORD}`).toString('base64')}` };
/** A CRM rejection long enough to break a table row: the home page clamps it and keeps the whole text in the title. */
const LONG_ERROR = `Field Company_Size__c: bad value for restricted picklist field: ${'x'.repeat(40)} ${'the value is not one of the allowed values '.repeat(5)}end-of-error`;

function unescape(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#96;/g, '`').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Hidden and named fields of the first POST form to `action` on a page, as a browser would send them. */
function formFields(page: string, action: string): Record<string, string> {
  const start = page.indexOf(`method="post" action="${action}"`);
  if (start < 0) throw new Error(`no form posting to ${action}`);
  const form = page.slice(start, page.indexOf('</form>', start));
  return Object.fromEntries([...form.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, unescape(m[2]!)]));
}

/** Every hour bar of every sparkline on a page, in order: the numbers it draws and says. */
function sparkBars(svg: string): { hour: string; delivered: number; failed: number; title: string }[] {
  return [...svg.matchAll(/<g class="spark-hour" data-hour="([^"]+)" data-delivered="(\d+)" data-failed="(\d+)"><title>([^<]*)<\/title>/g)]
    .map((m) => ({ hour: m[1]!, delivered: Number(m[2]), failed: Number(m[3]), title: m[4]! }));
}

/** The dashboard pieces of issue 13: sparklines, a home table that fits, dead-letter filters with counted bulk actions, lead search. */
describe('ops dashboard: sparklines, filters, bulk actions, lead search', () => {
  let hookReceiver: WebhookReceiver;
  let okReceiver: WebhookReceiver;
  let p: Pipeline;
  let app: FastifyInstance;
  const email = `grace.${Date.now().toString(36)}@contoso.example`;
  const searched: string[] = [];
  let fabrikamDead: string;
  let contosoDead: string;

  const get = (url: string) => app.inject({ method: 'GET', url, headers: auth });
  const postForm = (url: string, fields: Record<string, string>) => app.inject({
    method: 'POST', url, payload: new URLSearchParams(fields).toString(),
    headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost', 'sec-fetch-site': 'same-origin' },
  });
  const csrf = async () => /name="_csrf" value="([^"]+)"/.exec((await get('/destinations/ok')).body)![1]!;
  const deadIds = async () => (await p.relay.deadLetters({ destination: 'hook' })).map((d) => d.leadId).sort();

  beforeAll(async () => {
    hookReceiver = await WebhookReceiver.start();
    okReceiver = await WebhookReceiver.start();
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${hookReceiver.url('/hook')}" }
  - { id: ok, type: https, url: "${okReceiver.url('/ok')}" }`, `ops: { username: ops, password: "${PASSWORD}" }\ndedupe: { window: 0s }`));
    await p.startWorkers();
    // Three leads of one person (the search), delivered to both.
    for (const offer of ['contoso.one', 'contoso.two', 'fabrikam.three']) {
      const id = await p.accept(marketplaceLead({ UserDetails: { FirstName: 'Grace', LastName: 'Hopper', Email: email, Company: 'Navy' }, LeadSource: `AzureMarketplace-INS|${offer}` }));
      await p.waitForState(id, 'hook', ['delivered']);
      searched.unshift(id);
    }
    // Two permanent rejections at hook with different offers: dead at once, a long error.
    hookReceiver.failNext(2, 422, { body: { error: LONG_ERROR } });
    contosoDead = await p.accept(marketplaceLead());
    await p.waitForState(contosoDead, 'hook', ['dead']);
    fabrikamDead = await p.accept(marketplaceLead({ LeadSource: 'AzureMarketplace-INS|fabrikam.app' }));
    await p.waitForState(fabrikamDead, 'hook', ['dead']);
    await p.waitForState(fabrikamDead, 'ok', ['delivered']);
    ({ app } = await buildOpsServer({ config: p.config, relay: p.relay }));
  });
  afterAll(async () => {
    await app?.close();
    await p?.close();
    await hookReceiver?.stop();
    await okReceiver?.stop();
  });

  it('home: one sparkline per destination whose bars and label are the hourly stats; CSP-safe (no script, no style attribute)', async () => {
    const page = await get('/');
    expect(page.statusCode).toBe(200);
    const rows = page.body.split('<th scope="row">').slice(1);
    expect(rows).toHaveLength(2);
    for (const [i, id] of ['hook', 'ok'].entries()) {
      const stats = await p.relay.stats(id);
      const bars = sparkBars(rows[i]!);
      expect(bars.map(({ hour, delivered, failed }) => ({ hour, delivered, failed }))).toEqual(stats.hourly);
      const now = bars.at(-1)!;
      expect(now.title).toBe(`${stats.hourly.at(-1)!.hour.slice(0, 13).replace('T', ' ')}:00 UTC: ${now.delivered} delivered, ${now.failed} failed`);
      const sum = (k: 'delivered' | 'failed') => stats.hourly.reduce((n, h) => n + h[k], 0);
      expect(rows[i]).toContain(`aria-label="Last 24 hours: ${sum('delivered')} delivered, ${sum('failed')} failed attempt${sum('failed') === 1 ? '' : 's'}`);
    }
    // What happened is on the chart: hook delivered 3 and failed 2 this hour, ok delivered 5 and failed none.
    expect(sparkBars(rows[0]!).at(-1)).toMatchObject({ delivered: 3, failed: 2 });
    expect(sparkBars(rows[1]!).at(-1)).toMatchObject({ delivered: 5, failed: 0 });
    // The failed part is drawn on top of the delivered part, scaled to its busiest hour (3 + 2).
    expect(rows[0]).toMatch(/<rect class="spark-ok" x="92" y="8" width="3" height="12"\/><rect class="spark-bad" x="92" y="0" width="3" height="8"\/>/);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.body).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
    expect(page.body.replace('<script src="/assets/refresh.js" defer></script>', '')).not.toContain('<script');
  });

  it('a destination page has the larger sparkline with an axis and the same numbers', async () => {
    const page = (await get('/destinations/hook')).body;
    const svg = /<svg class="sparkline sparkline-large"[\s\S]*?<\/svg>/.exec(page)![0];
    expect(sparkBars(svg).map(({ hour, delivered, failed }) => ({ hour, delivered, failed }))).toEqual((await p.relay.stats('hook')).hourly);
    expect(svg).toContain('role="img"');
    expect(svg).toContain('>now</text>');
    expect(svg).toMatch(/width="528" height="104"/);
  });

  it('home fits: the table scrolls in its own box, the host stays on one line, a long error is clamped with its whole text in the title', async () => {
    const body = (await get('/')).body;
    expect(body).toMatch(/<div class="table-scroll">\s*<table aria-describedby="destinations-note">/);
    // The note is outside the scrolling box (a caption would be as wide as the table).
    expect(body).toContain('<p class="muted table-note" id="destinations-note">');
    expect(body).not.toContain('<caption');
    expect(body).toContain(`<td class="mono host"><span class="ellipsis" title="127.0.0.1:${hookReceiver.port}">127.0.0.1:${hookReceiver.port}</span></td>`);
    const clamp = /<span class="clamp" title="([^"]*)">/.exec(body);
    expect(clamp).not.toBeNull();
    // The whole error as stored (the delivery layer keeps its first few hundred characters), not a cut of it.
    const { lastError } = await p.relay.stats('hook');
    expect(lastError).toContain('Field Company_Size__c');
    expect(lastError!.length).toBeGreaterThan(200);
    expect(unescape(clamp![1]!)).toBe(lastError);
    const css = (await get('/assets/ops.css')).body;
    expect(css).toMatch(/\.table-scroll \{ overflow-x: auto;/);
    expect(css).toMatch(/-webkit-line-clamp: 2/);
    expect(css).toMatch(/td\.host, td\.num \{ white-space: nowrap; \}/);
    expect(css).toMatch(/\.ellipsis \{[^}]*text-overflow: ellipsis;[^}]*white-space: nowrap;/);
  });

  it('the dead-letter page filters by destination, time, error code and offer as a GET form; a filter it cannot read is a 400 naming it', async () => {
    const all = (await get('/dlq')).body;
    expect(all).toContain('<form method="get" action="/dlq"');
    for (const name of ['destination', 'since', 'until', 'code', 'offer']) expect(all).toContain(`name="${name}"`);
    expect(all).toContain(`href="/leads/${contosoDead}"`);
    expect(all).toContain(`href="/leads/${fabrikamDead}"`);
    const fabrikam = (await get('/dlq?destination=hook&offer=fabrikam.*')).body;
    expect(fabrikam).toContain(`href="/leads/${fabrikamDead}"`);
    expect(fabrikam).not.toContain(`href="/leads/${contosoDead}"`);
    expect(fabrikam).toContain('1 dead-lettered delivery matches');
    expect(fabrikam).toContain('value="fabrikam.*"');
    expect(fabrikam).toContain('>Replay these</button>');
    const byCode = (await get('/dlq?code=LR_PAYLOAD_REJECTED&since=1h')).body;
    expect(byCode).toContain('2 dead-lettered deliveries match');
    expect((await get('/dlq?code=SOMETHING_ELSE')).body).toContain('No dead-lettered deliveries');
    expect((await get('/dlq?until=2000-01-01T00:00:00Z')).body).toContain('No dead-lettered deliveries');
    const bad = await get('/dlq?since=last-week');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('since: &#39;last-week&#39; is neither a duration');
    expect((await get('/dlq?destination=nope')).statusCode).toBe(404);
  });

  it('"replay these" shows the count first and replays exactly that many; a dead letter arriving meanwhile is not swept in', async () => {
    const ask = await postForm('/dlq/replay', { _csrf: await csrf(), all: '1', destination: 'hook', offer: 'contoso.*', since: '1h', return: 'dlq' });
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('Replay dead letters?');
    const shown = Number(/This re-queues <strong>(\d+) dead-lettered/.exec(ask.body)![1]);
    expect(shown).toBe(1);
    expect(ask.body).toContain('>Replay 1</button>');
    expect(await deadIds()).toEqual([contosoDead, fabrikamDead].sort());
    const fields = formFields(ask.body, '/dlq/replay');
    expect(fields).toMatchObject({ confirm: 'yes', all: '1', destination: 'hook', offer: 'contoso.*' });
    expect(fields.since).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(fields.until).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    // Another contoso lead dies after the count was shown: it is not among "these".
    hookReceiver.failNext(1, 422, { body: { error: 'rejected later' } });
    const later = await p.accept(marketplaceLead());
    await p.waitForState(later, 'hook', ['dead']);
    const done = await postForm('/dlq/replay', fields);
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toMatch(new RegExp(`done=replayed&n=${shown}$`));
    expect(done.headers.location).toMatch(/^\/dlq\?destination=hook&since=[^&]+&until=[^&]+&offer=contoso.\*&done/);
    expect((await get(done.headers.location as string)).body).toContain('1 dead-lettered delivery re-queued with fresh attempts.');
    expect(await deadIds()).toEqual([fabrikamDead, later].sort());
    await p.waitForState(contosoDead, 'hook', ['delivered']);
  });

  it('"purge these" shows the count first and deletes exactly that many', async () => {
    const page = (await get('/dlq?offer=fabrikam.*')).body;
    const ask = await postForm('/dlq/purge', formFields(page, '/dlq/purge'));
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('Purge dead letters?');
    expect(ask.body).toContain('This deletes <strong>1 dead-lettered delivery</strong>');
    expect(ask.body).toContain('offer matching <span class="mono">fabrikam.*</span>');
    expect((await p.relay.deadLetters({})).length).toBe(2);
    const done = await postForm('/dlq/purge', formFields(ask.body, '/dlq/purge'));
    expect(done.headers.location).toMatch(/done=purged&n=1$/);
    expect((await p.relay.deadLetters({})).map((d) => d.leadId)).not.toContain(fabrikamDead);
    expect((await p.relay.deadLetters({})).length).toBe(1);
    // Nothing matches any more: the confirm page says so and offers no button.
    const none = await postForm('/dlq/purge', { _csrf: await csrf(), all: '1', offer: 'fabrikam.*' });
    expect(none.body).toContain('nothing to purge');
    expect(none.body).not.toContain('name="confirm"');
  });

  it('lead search: by email, paged with its cursor, masked unless ?pii=1', async () => {
    const form = await get('/leads');
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('<form method="get" action="/leads" role="search" aria-label="Search leads">');
    const first = await get(`/leads?email=${encodeURIComponent(email)}&limit=2`);
    expect(first.statusCode).toBe(200);
    const ids = (body: string) => [...body.matchAll(/<th scope="row"><a class="mono" href="\/leads\/([^"?]+)/g)].map((m) => m[1]);
    expect(ids(first.body)).toEqual(searched.slice(0, 2));
    // Masked: no name, and the address only where the operator typed it (the search box).
    expect(first.body).not.toContain('Hopper');
    expect(first.body).toContain(`G••• H•••, g•••@contoso.example, Navy`);
    expect(first.body.split(email).length - 1).toBe(1);
    const next = /<a rel="next" href="([^"]+)">Next page<\/a>/.exec(first.body);
    expect(next).not.toBeNull();
    const second = await get(unescape(next![1]!));
    expect(ids(second.body)).toEqual(searched.slice(2));
    expect(second.body).not.toContain('Next page');
    expect(second.body).toContain('First page');
    const shownPii = await get(`/leads?email=${encodeURIComponent(email)}&pii=1`);
    expect(ids(shownPii.body)).toEqual(searched);
    expect(shownPii.body).toContain(`Grace Hopper, ${email}, Navy`);
    expect(shownPii.body).toContain(`href="/leads/${searched[0]}?pii=1"`);
    expect(shownPii.body).toContain('Mask it');
  });

  it('lead search narrows by offer glob and since; bad input is a 400 page naming the field', async () => {
    const ids = (body: string) => [...body.matchAll(/<th scope="row"><a class="mono" href="\/leads\/([^"?]+)/g)].map((m) => m[1]);
    expect(ids((await get(`/leads?email=${encodeURIComponent(email)}&offer=fabrikam.*`)).body)).toEqual([searched[0]]);
    const byOffer = ids((await get('/leads?offer=contoso.t*')).body);
    expect(byOffer).toEqual([searched[1]]);
    const recent = ids((await get('/leads?since=1h&limit=1000')).body);
    expect(recent).toEqual(expect.arrayContaining(searched));
    const bad = await get('/leads?since=yesterday');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('since: &#39;yesterday&#39;');
    expect((await get('/leads?state=dead')).statusCode).toBe(400);
    expect((await get('/leads?since=1d&state=lost')).body).toContain("state: &#39;lost&#39; is not one of queued");
    expect((await get('/leads?since=1d&cursor=zz')).body).toContain('cursor');
    expect((await get('/leads?since=1d&destination=nope')).statusCode).toBe(404);
  });
});
