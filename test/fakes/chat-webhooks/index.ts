import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Local Slack incoming webhook and Microsoft Teams Workflows webhook receivers, answering as the real
 * services do:
 * - Slack (api.slack.com/messaging/webhooks, "Handling errors"): 200 `ok` (text/html) for a message with `text`
 *   or `blocks`; 400 `invalid_payload` for a body that is not JSON, `no_text` without either, `invalid_blocks`
 *   for a block that is not a known type or a section text over 3000 characters; 403 `action_prohibited`,
 *   404 `no_service`, 410 `channel_is_archived` when the webhook was revoked or its channel archived.
 * - Teams Workflows ("When a Teams webhook request is received"): 202 Accepted with an empty body for any JSON;
 *   the flow then fails to post a body that is not a message with an Adaptive Card attachment, which the sender
 *   never sees: `failedRuns` records them.
 */
abstract class ChatWebhook {
  readonly messages: unknown[] = [];
  readonly requests: { status: number; body: string }[] = [];
  private nextStatus?: { status: number; body: string };
  protected constructor(private readonly server: Server) {}

  url(path = '/hook'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** Answers every later request as a revoked webhook or archived channel would. */
  revoke(status: number, body: string): this {
    this.nextStatus = { status, body };
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => { this.server.close(() => resolve()); this.server.closeAllConnections(); });
  }

  protected static async listen<T extends ChatWebhook>(make: (server: Server) => T): Promise<T> {
    let self!: T;
    const server = createServer((req, res) => { void self.handle(req, res); });
    self = make(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return self;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const answer = this.nextStatus ?? (req.method === 'POST' ? this.answer(text, req.headers['content-type'] ?? '') : { status: 405, body: 'invalid_method' });
    this.requests.push({ status: answer.status, body: text });
    res.writeHead(answer.status, { 'content-type': 'text/html' }).end(answer.body);
  }

  protected abstract answer(body: string, contentType: string): { status: number; body: string };
}

const SLACK_BLOCK_TYPES = new Set(['section', 'context', 'divider', 'header', 'actions', 'image', 'rich_text']);

export class FakeSlackWebhook extends ChatWebhook {
  static start(): Promise<FakeSlackWebhook> {
    return ChatWebhook.listen((server) => new FakeSlackWebhook(server));
  }

  protected answer(body: string, contentType: string): { status: number; body: string } {
    if (!contentType.startsWith('application/json')) return { status: 400, body: 'invalid_payload' };
    let msg: { text?: unknown; blocks?: unknown };
    try {
      msg = JSON.parse(body) as typeof msg;
    } catch {
      return { status: 400, body: 'invalid_payload' };
    }
    if (typeof msg.text !== 'string' && !Array.isArray(msg.blocks)) return { status: 400, body: 'no_text' };
    for (const block of (msg.blocks as Array<Record<string, unknown>> | undefined) ?? []) {
      if (!SLACK_BLOCK_TYPES.has(String(block.type))) return { status: 400, body: 'invalid_blocks' };
      const t = block.text as { type?: string; text?: string } | undefined;
      if (block.type === 'section' && (!t || !['mrkdwn', 'plain_text'].includes(String(t.type)) || typeof t.text !== 'string' || t.text.length > 3000)) {
        return { status: 400, body: 'invalid_blocks' };
      }
    }
    this.messages.push(msg);
    return { status: 200, body: 'ok' };
  }
}

export class FakeTeamsWorkflowWebhook extends ChatWebhook {
  /** Bodies the flow could not post as a card (the sender got 202 for them all the same). */
  readonly failedRuns: unknown[] = [];

  static start(): Promise<FakeTeamsWorkflowWebhook> {
    return ChatWebhook.listen((server) => new FakeTeamsWorkflowWebhook(server));
  }

  protected answer(body: string): { status: number; body: string } {
    let msg: { type?: unknown; attachments?: Array<{ contentType?: unknown; content?: { type?: unknown; version?: unknown; body?: unknown } }> };
    try {
      msg = JSON.parse(body) as typeof msg;
    } catch {
      return { status: 400, body: '{"error":{"code":"InvalidRequestContent","message":"The input body for trigger manual of type Request must be of type JSON"}}' };
    }
    const card = msg.attachments?.[0];
    const ok = msg.type === 'message' && card?.contentType === 'application/vnd.microsoft.card.adaptive'
      && card.content?.type === 'AdaptiveCard' && typeof card.content.version === 'string' && Array.isArray(card.content.body);
    (ok ? this.messages : this.failedRuns).push(msg);
    return { status: 202, body: '' };
  }
}
