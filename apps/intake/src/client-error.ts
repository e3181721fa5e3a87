import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { PROBLEMS, problem, type ProblemKind } from '@leadrelay/core';

/**
 * Fastify's `clientErrorHandler`: requests Node's HTTP parser rejects before Fastify sees them
 * (malformed request line, headers over the size limit, a request that never finished) still get
 * problem+json, like every other intake error. Mirrors Fastify's default handler otherwise.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection is already gone: nothing to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [kind, detail]: [ProblemKind, string] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [{ ...PROBLEMS.badRequest, title: 'Request timeout', status: 408 }, 'The request was not completed in time.']
      : err.code === 'HPE_HEADER_OVERFLOW' ? [{ ...PROBLEMS.badRequest, title: 'Request headers too large', status: 431 }, 'The request headers are larger than the server accepts.']
        : [PROBLEMS.badRequest, 'The request is not valid HTTP.'];
  const body = JSON.stringify(problem(kind, detail));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${kind.status} ${STATUS_CODES[kind.status]}\r\nContent-Type: application/problem+json; charset=utf-8\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
