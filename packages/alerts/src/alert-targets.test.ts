import { afterEach, describe, expect, it } from 'vitest';
import { FakeSlackWebhook, FakeTeamsWorkflowWebhook } from '../../../test/fakes/chat-webhooks/index.js';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';
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
});
