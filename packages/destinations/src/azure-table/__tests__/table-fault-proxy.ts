import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { azuriteConnectionString } from '../../../../../test/helpers/azurite.js';

/** What a Table service request is, from its path. */
export type TableRequestKind = 'batch' | 'createTable' | 'createEntity' | 'other';

/** A Table service error answer, shaped like the real service's (JSON odata.error + x-ms-error-code). */
export interface TableFault {
  /** Only requests of this kind get the fault (default: any). */
  kind?: TableRequestKind;
  status?: number;
  code?: string;
  message?: string;
  retryAfter?: string;
  /** Destroy the socket instead of answering. */
  reset?: boolean;
  /** Wait before answering (or forwarding, when no status is given). */
  delayMs?: number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  kind: TableRequestKind;
  /** What the client got: a status, or `reset`. */
  outcome: number | 'reset';
}

const JSON_TYPE = 'application/json;odata=minimalmetadata;streaming=true;charset=utf-8';

/**
 * A fault-injecting proxy in front of a real Azurite: forwards every request unchanged (SharedKeyLite
 * signatures cover the path, not the host) unless a fault is queued, or the request writes an entity whose
 * RowKey has been marked as rejected — then it answers like the Table service does, for single creates and
 * inside entity-group transactions (a 202 multipart whose changeset holds the failing operation's error).
 */
export class TableFaultProxy {
  readonly requests: ProxiedRequest[] = [];
  private readonly faults: TableFault[] = [];
  private readonly rejected = new Map<string, { status: number; code: string; message: string }>();
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number, private readonly target: URL) {}

  static async start(targetConnectionString: string): Promise<TableFaultProxy> {
    const endpoint = /TableEndpoint=([^;]+)/i.exec(targetConnectionString)?.[1];
    if (!endpoint) throw new Error('TableFaultProxy needs a connection string with TableEndpoint');
    let proxy: TableFaultProxy | undefined;
    const server = createServer((req, res) => void proxy!.handle(req, res));
    server.on('connection', (s) => { proxy?.sockets.add(s); s.on('close', () => proxy?.sockets.delete(s)); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    proxy = new TableFaultProxy(server, (server.address() as { port: number }).port, new URL(endpoint));
    return proxy;
  }

  /** The Azurite connection string, pointed at this proxy. */
  get connectionString(): string {
    return azuriteConnectionString('127.0.0.1', this.port);
  }

  failNext(n: number, fault: TableFault): this {
    for (let i = 0; i < n; i++) this.faults.push({ ...fault });
    return this;
  }

  /** Every write of this RowKey (alone or in a transaction) is refused with this error. */
  rejectRowKey(rowKey: string, error: { status?: number; code: string; message: string }): this {
    this.rejected.set(rowKey, { status: error.status ?? 400, ...error });
    return this;
  }

  count(kind: TableRequestKind): number {
    return this.requests.filter((r) => r.kind === kind).length;
  }

  clear(): void {
    this.requests.length = 0;
    this.faults.length = 0;
    this.rejected.clear();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
    });
    const path = (req.url ?? '/').split('?')[0]!;
    const kind = kindOf(req.method ?? 'GET', path);
    const record: ProxiedRequest = { method: req.method ?? 'GET', path, kind, outcome: 0 };
    this.requests.push(record);

    const i = this.faults.findIndex((f) => f.kind === undefined || f.kind === kind);
    const fault = i >= 0 ? this.faults.splice(i, 1)[0] : undefined;
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (res.socket?.destroyed) return;
    if (fault?.reset) {
      record.outcome = 'reset';
      res.socket?.destroy();
      return;
    }
    if (fault?.status) {
      record.outcome = fault.status;
      return this.answerError(res, fault.status, fault.code ?? 'InternalError', fault.message ?? 'Server encountered an internal error.', fault.retryAfter);
    }
    const rejection = this.rejectionFor(kind, body.toString('utf8'));
    if (rejection && kind === 'createEntity') {
      record.outcome = rejection.status;
      return this.answerError(res, rejection.status, rejection.code, rejection.message);
    }
    if (rejection && kind === 'batch') {
      record.outcome = 202;
      return this.answerBatchError(res, rejection.index, rejection);
    }
    this.forward(req, res, body, record);
  }

  private rejectionFor(kind: TableRequestKind, text: string): { index: number; status: number; code: string; message: string } | undefined {
    if (this.rejected.size === 0 || (kind !== 'createEntity' && kind !== 'batch')) return undefined;
    const rowKeys = [...text.matchAll(/"RowKey":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
    const index = rowKeys.findIndex((k) => this.rejected.has(k));
    return index < 0 ? undefined : { index, ...this.rejected.get(rowKeys[index]!)! };
  }

  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer, record: ProxiedRequest): void {
    const upstream = request({
      host: this.target.hostname, port: this.target.port, method: req.method, path: req.url,
      headers: { ...req.headers, host: this.target.host },
    }, (up) => {
      record.outcome = up.statusCode ?? 0;
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => { record.outcome = 'reset'; res.socket?.destroy(); });
    upstream.end(body);
  }

  private answerError(res: ServerResponse, status: number, code: string, message: string, retryAfter?: string): void {
    const requestId = randomUUID();
    res.writeHead(status, {
      'content-type': JSON_TYPE, 'x-ms-error-code': code, 'x-ms-request-id': requestId, 'x-ms-version': '2019-02-02',
      ...(retryAfter ? { 'retry-after': retryAfter } : {}),
    });
    res.end(JSON.stringify({ 'odata.error': { code, message: { lang: 'en-US', value: `${message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}` } } }));
  }

  /** The service's answer to a failed changeset: 202 overall, one sub-response carrying `<index>:<message>`. */
  private answerBatchError(res: ServerResponse, index: number, e: { status: number; code: string; message: string }): void {
    const batch = `batchresponse_${randomUUID()}`;
    const changeset = `changesetresponse_${randomUUID()}`;
    const requestId = randomUUID();
    const error = JSON.stringify({ 'odata.error': { code: e.code, message: { lang: 'en-US', value: `${index}:${e.message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}` } } });
    const text = [
      `--${batch}`, `Content-Type: multipart/mixed; boundary=${changeset}`, '',
      `--${changeset}`, 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '',
      `HTTP/1.1 ${e.status} ${e.status === 409 ? 'Conflict' : 'Bad Request'}`, 'X-Content-Type-Options: nosniff', 'Cache-Control: no-cache',
      'DataServiceVersion: 3.0;', `Content-Type: ${JSON_TYPE}`, '', error,
      `--${changeset}--`, `--${batch}--`, '',
    ].join('\r\n');
    res.writeHead(202, { 'content-type': `multipart/mixed; boundary=${batch}`, 'x-ms-request-id': requestId, 'x-ms-version': '2019-02-02' });
    res.end(text);
  }
}

function kindOf(method: string, path: string): TableRequestKind {
  const parts = path.split('/').filter(Boolean); // [account, resource]
  const resource = decodeURIComponent(parts[1] ?? '');
  if (resource === '$batch') return 'batch';
  if (method === 'POST' && resource === 'Tables') return 'createTable';
  if (method === 'POST' && parts.length === 2 && !resource.includes('(')) return 'createEntity';
  return 'other';
}
