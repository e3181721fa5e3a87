import { afterEach, describe, expect, it } from 'vitest';
import { FakeSlackWebhook, FakeTeamsWorkflowWebhook } from '../../../test/fakes/chat-webhooks/index.js';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';
import type { AlertPayload, AlertType } from './alert.js';
import { ALERT_LEVEL } from './alert.js';
import { alertSummary } from './alert-format.js';
import { Alerts } from './alerts.js';
import { captureLogs } from './__tests__/capture-logs.js';

const SECRET = 'whsec_YWxlcnQtdGFyZ2V0cy10ZXN0LXNlY3JldA==';

/** `alerts.targets`: every alert also goes to Slack and Teams, each in the shape its receiver accepts. */
describe('alert targets', () => {
  let slack: FakeSlackWebhook;
  let teams: FakeTeamsWorkflowWebhook;
  let generic: WebhookReceiver;
  let alerts: Alerts | undefined;
  afterEach(async () => {
    await alerts?.close(500);
    await Promise.all([slack?.stop(), teams?.stop(), generic?.stop()]);
  });

  async function start() {
    slack = await FakeSlackWebhook.start();
    teams = await FakeTeamsWorkflowWebhook.start();
    generic = await WebhookReceiver.start({ signingSecret: SECRET });
    const config = pipelineConfig('  - { id: crm, type: https, url: "http://127.0.0.1:9/crm" }', `
alerts:
  targets:
    - { type: slack, url: "${slack.url('/services/T000/B000/XXXX')}" }
    - { type: teams, url: "${teams.url('/workflows/abc/triggers/manual/paths/invoke')}" }
    - { type: webhook, url: "${generic.url('/alerts')}", signingSecret: "${SECRET}" }`);
    const logs = captureLogs();
    alerts = new Alerts({ config, logger: logs.logger, webhook: { retryDelaysMs: [10] } });
    return logs;
  }

  it('a pause reaches Slack as text and blocks, Teams as an Adaptive Card, and the signed webhook as JSON', async () => {
    await start();
    await alerts!.destinationPaused({ destination: 'crm', reason: 'HTTP 401 from https://crm.example.com', remediation: 'Set a valid API key, then `leadrelay resume crm`.' });
    await alerts!.idle();

    expect(slack.requests.map((r) => r.status)).toEqual([200]);
    const s = slack.messages[0] as { text: string; blocks: Array<{ text?: { text: string } }> };
    expect(s.text).toContain('Destination crm is paused');
    const blockText = s.blocks.map((b) => b.text?.text ?? '').join('\n');
    expect(blockText).toContain('*remediation*: Set a valid API key, then `leadrelay resume crm`.');

    expect(teams.requests.map((r) => r.status)).toEqual([202]);
    expect(teams.failedRuns).toEqual([]);
    const card = (teams.messages[0] as { attachments: Array<{ content: { body: Array<{ type: string; text?: string; facts?: Array<{ title: string; value: string }> }> } }> }).attachments[0]!.content;
    expect(card.body[0]!.text).toBe('LeadRelay: Destination crm is paused: leads are kept, none are delivered');
    expect(card.body.find((b) => b.type === 'FactSet')!.facts).toEqual(expect.arrayContaining([{ title: 'reason', value: 'HTTP 401 from https://crm.example.com' }]));

    expect(generic.requests).toHaveLength(1);
    expect(generic.requests[0]!.signatureValid).toBe(true);
    expect(generic.requests[0]!.json).toMatchObject({ type: 'destination-paused', data: { destination: 'crm' } });
    // Slack and Teams get no Standard Webhooks headers: they check the URL, not a signature.
    expect(slack.requests).toHaveLength(1);
  });

  it('Slack escapes what mrkdwn would read as markup (&, <, >) in alert texts', async () => {
    await start();
    await alerts!.destinationPaused({ destination: 'crm', reason: 'a <b>bold</b> & odd reply', remediation: 'none' });
    await alerts!.idle();
    const s = slack.messages[0] as { blocks: Array<{ text?: { text: string } }> };
    expect(s.blocks.map((b) => b.text?.text ?? '').join('\n')).toContain('a &lt;b&gt;bold&lt;/b&gt; &amp; odd reply');
  });

  it('a revoked Slack webhook (410 channel_is_archived) is given up at once, logged with its origin only; the other targets still get the alert', async () => {
    const logs = await start();
    slack.revoke(410, 'channel_is_archived');
    await alerts!.destinationPaused({ destination: 'crm', reason: 'HTTP 401', remediation: 'fix it' });
    await alerts!.idle();
    expect(slack.requests.map((r) => r.status)).toEqual([410]);
    expect(teams.messages).toHaveLength(1);
    expect(generic.requests).toHaveLength(1);
    const failed = logs.lines.find((l) => l.msg === 'alert webhook failed; giving up (the alert is in the log)');
    expect(failed).toMatchObject({ target: 'slack', status: 410, receiver: slack.url('').replace(/\/$/, '') });
    expect(JSON.stringify(logs.lines)).not.toContain('XXXX');
  });

  const at = '2026-03-01T10:00:00.000Z';
  /** One alert of each type added with the state alerts and the dead-letter grouping, as Alerts raises them. */
  const NEW_TYPES: { [T in AlertType]?: { data: AlertPayload<T>['data']; title: string; facts: Array<[string, string]> } } = {
    'destination-failing': {
      data: { destination: 'crm', destinationType: 'https', recentFailures: 8, recentAttempts: 10, failureRatio: 0.8, lastError: 'HTTP 503 from https://crm.example.com', lastErrorCode: 'LR_TRANSIENT', lastErrorAt: at, remediation: 'check the CRM' },
      title: 'Destination crm is failing: 8 of its last 10 attempts failed',
      facts: [['failureRatio', '80%'], ['lastError', 'HTTP 503 from https://crm.example.com'], ['lastErrorCode', 'LR_TRANSIENT'], ['remediation', 'check the CRM']],
    },
    'destination-resumed': {
      data: { destination: 'crm', destinationType: 'https', pausedSince: at, resumedAt: '2026-03-01T10:05:00.000Z', how: 'operator' },
      title: 'Destination crm is resumed: its leads are delivered again',
      facts: [['how', 'operator'], ['pausedSince', at], ['resumedAt', '2026-03-01T10:05:00.000Z']],
    },
    'destination-recovered': {
      data: { destination: 'crm', destinationType: 'https', downSince: at, downForMs: 20_000, lastSuccessAt: at, after: 'failing' },
      title: 'Destination crm delivers again',
      facts: [['after', 'failing'], ['downFor', '20 s']],
    },
    'leads-dead-lettered': {
      data: { destination: 'crm', destinationType: 'https', count: 12, since: at, until: '2026-03-01T10:01:00.000Z', windowMs: 60_000, codes: { LR_PAYLOAD_REJECTED: 9, LR_AUTH: 3 },
        examples: [{ leadId: 'lead-1', code: 'LR_PAYLOAD_REJECTED' }, { leadId: 'lead-2', code: 'LR_AUTH' }], remediation: 'replay them' },
      title: '12 more lead(s) were dead-lettered at crm',
      facts: [['count', '12'], ['window', '1 min'], ['code LR_PAYLOAD_REJECTED', '9'], ['code LR_AUTH', '3'], ['lead lead-1', 'LR_PAYLOAD_REJECTED'], ['lead lead-2', 'LR_AUTH']],
    },
    'source-failing': {
      data: { source: 'old-table', sourceType: 'azure-table', failures: 3, failingSince: at, lastError: 'connect ECONNREFUSED', remediation: 'check the storage account' },
      title: 'Source old-table is failing: 3 polls in a row failed',
      facts: [['source', 'old-table'], ['failures', '3'], ['lastError', 'connect ECONNREFUSED'], ['failingSince', at]],
    },
    'source-recovered': {
      data: { source: 'old-table', sourceType: 'azure-table', failures: 4, failingSince: at, recoveredAt: '2026-03-01T10:02:00.000Z' },
      title: 'Source old-table polls again',
      facts: [['failures', '4'], ['recoveredAt', '2026-03-01T10:02:00.000Z']],
    },
  };

  it('every new alert type reaches Slack (text + mrkdwn sections) and Teams (Adaptive Card 1.4) with its title, facts and level color', async () => {
    await start();
    const entries = Object.entries(NEW_TYPES) as Array<[AlertType, { data: unknown; title: string; facts: Array<[string, string]> }]>;
    for (const [type, { data }] of entries) for (const t of alerts!.targets) t.send({ type, timestamp: at, data } as AlertPayload);
    await alerts!.idle();

    expect(slack.requests.map((r) => r.status)).toEqual(entries.map(() => 200));
    expect(teams.requests.map((r) => r.status)).toEqual(entries.map(() => 202));
    expect(teams.failedRuns).toEqual([]);
    // Sent concurrently: matched by type, not by order.
    expect(generic.requests.map((r) => (r.json as AlertPayload).type).sort()).toEqual(entries.map(([type]) => type).sort());
    const slackOf = (type: string) => slack.messages.filter((m) => JSON.stringify(m).includes(`"${type} · `));
    const teamsOf = (type: string) => teams.messages.filter((m) => JSON.stringify(m).includes(`"${type} · `));
    for (const [type, { title, facts }] of entries) {
      expect(slackOf(type)).toHaveLength(1);
      expect(teamsOf(type)).toHaveLength(1);
      const expectedIcon = { info: ':white_check_mark:', warn: ':warning:', error: ':rotating_light:' }[ALERT_LEVEL[type]];
      const expectedColor = { info: 'Good', warn: 'Warning', error: 'Attention' }[ALERT_LEVEL[type]];
      const s = slackOf(type)[0] as { text: string; blocks: Array<{ type: string; text?: { type: string; text: string }; elements?: Array<{ text: string }> }> };
      expect(s.text).toBe(`${expectedIcon} LeadRelay: ${title}`);
      expect(s.blocks.map((b) => b.type)).toEqual(['section', 'section', 'context']);
      expect(s.blocks[0]!.text).toEqual({ type: 'mrkdwn', text: `*${s.text}*` });
      for (const [k, v] of facts) expect(s.blocks[1]!.text!.text).toContain(`*${k}*: ${v}`);
      expect(s.blocks[2]!.elements![0]!.text).toBe(`${type} · ${at}`);

      const msg = teamsOf(type)[0] as { type: string; attachments: Array<{ contentType: string; content: { type: string; version: string; body: Array<{ type: string; text?: string; color?: string; facts?: Array<{ title: string; value: string }> }> } }> };
      expect(msg.type).toBe('message');
      expect(msg.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
      const card = msg.attachments[0]!.content;
      expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
      expect(card.body[0]).toMatchObject({ type: 'TextBlock', text: `LeadRelay: ${title}`, color: expectedColor });
      expect(card.body[1]!.facts).toEqual(expect.arrayContaining(facts.map(([k, v]) => ({ title: k, value: v }))));
      expect(card.body[2]).toMatchObject({ type: 'TextBlock', text: `${type} · ${at}`, isSubtle: true });
    }
  });

  it('a summary shows at most 5 example leads in a chat (the webhook carries all 20)', () => {
    const examples = Array.from({ length: 20 }, (_, i) => ({ leadId: `lead-${i}`, code: 'LR_AUTH' }));
    const { facts } = alertSummary({ type: 'leads-dead-lettered', timestamp: at, data: { ...NEW_TYPES['leads-dead-lettered']!.data, examples } });
    expect(facts.filter(([k]) => k.startsWith('lead ')).map(([k]) => k)).toEqual(['lead lead-0', 'lead lead-1', 'lead lead-2', 'lead lead-3', 'lead lead-4']);
  });
});
