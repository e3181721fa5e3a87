import type { AlertPayload, AlertType } from './alert.js';

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
  'destination-recovered': (d) => `Destination ${d.destination} delivers again`,
  'lead-dead-lettered': (d) => `A lead was dead-lettered at ${d.destination}`,
  'queue-waiting-too-long': (d) => `Leads for ${d.destination} have waited longer than the threshold`,
  'queue-recovered': (d) => `Destination ${d.destination} keeps up again`,
  'source-paused': (d) => `Source ${d.source} is paused until someone acts`,
  'reconciliation-gap': (d) => `Reconciliation found ${d.missing} lead(s) not accepted or not delivered`,
};

/** Data keys worth a line in a chat message, in this order; the generic webhook carries all of them. */
const FACT_KEYS = ['destination', 'destinationType', 'source', 'sourceType', 'leadId', 'oldestLeadId', 'state', 'reason', 'error', 'code',
  'destinationCode', 'status', 'attempts', 'waiting', 'waitedMs', 'thresholdMs', 'downSince', 'downForMs', 'slowSince', 'since', 'missing', 'remediation'] as const;

/** The most a chat line shows of one value: Slack cuts a section's text at 3000 characters. */
const MAX_FACT_CHARS = 500;

export function alertSummary(payload: AlertPayload): AlertSummary {
  const data = payload.data as unknown as Record<string, unknown>;
  const facts: Array<[string, string]> = [];
  for (const key of FACT_KEYS) {
    const value = data[key];
    if (value === undefined || value === null || value === '') continue;
    const text = key.endsWith('Ms') && typeof value === 'number' ? `${Math.round(value / 60_000)} min` : String(value);
    facts.push([key.replace(/Ms$/, ''), text.length > MAX_FACT_CHARS ? `${text.slice(0, MAX_FACT_CHARS - 1)}…` : text]);
  }
  if (payload.type === 'reconciliation-gap') {
    const examples = (payload.data as { examples: { source: string; key: string; reason: string }[] }).examples.slice(0, 5);
    for (const e of examples) facts.push([`${e.source} ${e.key}`, e.reason]);
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

const RECOVERED = new Set<AlertType>(['destination-recovered', 'queue-recovered']);

function icon(type: AlertType): string {
  return RECOVERED.has(type) ? ':white_check_mark:' : type === 'queue-waiting-too-long' ? ':warning:' : ':rotating_light:';
}

function color(type: AlertType): 'Good' | 'Warning' | 'Attention' {
  return RECOVERED.has(type) ? 'Good' : type === 'queue-waiting-too-long' ? 'Warning' : 'Attention';
}

/** Slack's mrkdwn needs only &, < and > escaped. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
