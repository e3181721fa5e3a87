import { ALERT_LEVEL, type AlertPayload, type AlertType } from './alert.js';

/** Where an alert target's body goes: the signed generic webhook, a Slack incoming webhook, a Teams Workflows webhook. */
export const ALERT_TARGET_TYPES = ['webhook', 'slack', 'teams'] as const;
export type AlertTargetType = (typeof ALERT_TARGET_TYPES)[number];

/** An alert as a person reads it in a chat: a one-line title and the facts that matter. */
export interface AlertSummary {
  title: string;
  facts: Array<[name: string, value: string]>;
}

const TITLES: Record<AlertType, (d: Record<string, unknown>) => string> = {
  'destination-paused': (d) => `Destination ${d.destination} is paused: leads are kept, none are delivered`,
  'destination-resumed': (d) => `Destination ${d.destination} is resumed: its leads are delivered again`,
  'destination-failing': (d) => `Destination ${d.destination} is failing: ${d.recentFailures} of its last ${d.recentAttempts} attempts failed`,
  'destination-recovered': (d) => `Destination ${d.destination} delivers again`,
  'lead-dead-lettered': (d) => `A lead was dead-lettered at ${d.destination}`,
  'leads-dead-lettered': (d) => `${d.count} more lead(s) were dead-lettered at ${d.destination}`,
  'queue-waiting-too-long': (d) => `Leads for ${d.destination} have waited longer than the threshold`,
  'queue-recovered': (d) => `Destination ${d.destination} keeps up again`,
  'source-paused': (d) => `Source ${d.source} is paused until someone acts`,
  'source-failing': (d) => `Source ${d.source} is failing: ${d.failures} polls in a row failed`,
  'source-recovered': (d) => `Source ${d.source} polls again`,
  'reconciliation-gap': (d) => `Reconciliation found ${d.missing} lead(s) not accepted or not delivered`,
};

/** Data keys worth a line in a chat message, in this order; the generic webhook carries all of them. */
const FACT_KEYS = ['destination', 'destinationType', 'source', 'sourceType', 'leadId', 'oldestLeadId', 'state', 'after', 'how', 'reason', 'error', 'code',
  'destinationCode', 'status', 'attempts', 'count', 'recentFailures', 'recentAttempts', 'failureRatio', 'failures', 'lastError', 'lastErrorCode',
  'waiting', 'waitedMs', 'thresholdMs', 'downSince', 'downForMs', 'pausedSince', 'resumedAt', 'slowSince', 'failingSince', 'recoveredAt',
  'since', 'until', 'windowMs', 'missing', 'remediation'] as const;

/** The most a chat line shows of one value: Slack cuts a section's text at 3000 characters. */
const MAX_FACT_CHARS = 500;

export function alertSummary(payload: AlertPayload): AlertSummary {
  const data = payload.data as unknown as Record<string, unknown>;
  const facts: Array<[string, string]> = [];
  for (const key of FACT_KEYS) {
    const value = data[key];
    if (value === undefined || value === null || value === '') continue;
    const text = key === 'failureRatio' && typeof value === 'number' ? `${Math.round(value * 100)}%`
      : key.endsWith('Ms') && typeof value === 'number' ? duration(value) : String(value);
    facts.push([key.replace(/Ms$/, ''), text.length > MAX_FACT_CHARS ? `${text.slice(0, MAX_FACT_CHARS - 1)}…` : text]);
  }
  if (payload.type === 'reconciliation-gap') {
    const examples = (payload.data as { examples: { source: string; key: string; reason: string }[] }).examples.slice(0, 5);
    for (const e of examples) facts.push([`${e.source} ${e.key}`, e.reason]);
  }
  if (payload.type === 'leads-dead-lettered') {
    const d = payload.data as { codes: Record<string, number>; examples: { leadId: string; code: string }[] };
    for (const [code, n] of Object.entries(d.codes).sort((a, b) => b[1] - a[1])) facts.push([`code ${code}`, String(n)]);
    for (const e of d.examples.slice(0, 5)) facts.push([`lead ${e.leadId}`, e.code]);
  }
  return { title: TITLES[payload.type](data), facts };
}

/** Slack incoming webhook body: `text` (the notification and fallback) and Block Kit sections (mrkdwn). */
export function slackBody(payload: AlertPayload): unknown {
  const { title, facts } = alertSummary(payload);
  const text = `${icon(payload.type)} LeadRelay: ${title}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${escapeSlack(text)}*` } },
      ...(facts.length ? [{ type: 'section', text: { type: 'mrkdwn', text: facts.map(([k, v]) => `*${escapeSlack(k)}*: ${escapeSlack(v)}`).join('\n').slice(0, 3000) } }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${payload.type} · ${payload.timestamp}` }] },
    ],
  };
}

/** Teams Workflows webhook body ("When a Teams webhook request is received"): a message with one Adaptive Card. */
export function teamsBody(payload: AlertPayload): unknown {
  const { title, facts } = alertSummary(payload);
  return {
    type: 'message',
    attachments: [{
      contentType: 'application/vnd.microsoft.card.adaptive',
      contentUrl: null,
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        type: 'AdaptiveCard',
        version: '1.4',
        body: [
          { type: 'TextBlock', text: `LeadRelay: ${title}`, weight: 'Bolder', size: 'Medium', wrap: true, color: color(payload.type) },
          ...(facts.length ? [{ type: 'FactSet', facts: facts.map(([k, v]) => ({ title: k, value: v })) }] : []),
          { type: 'TextBlock', text: `${payload.type} · ${payload.timestamp}`, isSubtle: true, size: 'Small', wrap: true },
        ],
      },
    }],
  };
}

/** The JSON body a target of this type is sent. */
export function alertBody(type: AlertTargetType, payload: AlertPayload): string {
  return JSON.stringify(type === 'slack' ? slackBody(payload) : type === 'teams' ? teamsBody(payload) : payload);
}

/** Minutes, or seconds under a minute (a 60 s grouping window, a recovery after 20 s). */
function duration(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}

/** The log level says it: info alerts are good news (resumed, recovered), warn ones a worry, error ones need a person. */
function icon(type: AlertType): string {
  const level = ALERT_LEVEL[type];
  return level === 'info' ? ':white_check_mark:' : level === 'warn' ? ':warning:' : ':rotating_light:';
}

function color(type: AlertType): 'Good' | 'Warning' | 'Attention' {
  const level = ALERT_LEVEL[type];
  return level === 'info' ? 'Good' : level === 'warn' ? 'Warning' : 'Attention';
}

/** Slack's mrkdwn needs only &, < and > escaped. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
