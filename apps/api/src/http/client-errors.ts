import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { BadRequestException } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { helmetHeaders } from './security-headers.js';
import { PROBLEM_CONTENT_TYPE, problemBase, statusTitle } from './problem.js';

/** Parser errors Node reports before a request exists, by the status they deserve. */
function statusOfClientError(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  // A malformed request line, header, chunk or Content-Length, Content-Length with
  // Transfer-Encoding (a smuggling shape), an unknown method, an oversized URL...
  return 400;
}

/**
 * Fastify's `clientErrorHandler`: Node's HTTP parser refused the bytes before any request object
 * existed (431 oversized headers, 400 malformed request line or Content-Length, Content-Length with
 * Transfer-Encoding), so no hook, filter or header plugin runs. Fastify's default answer was plain
 * JSON without security headers or request id; this writes the same problem+json every other error
 * is, with the listener's security headers (helmetHeaders), `Cache-Control: no-store`, and a fresh
 * request id the client can quote, then closes the connection as Node does: after a parse error the
 * stream cannot be trusted to find the next request.
 */
export function clientErrorHandler(): (error: Error & { code?: string }, socket: Socket) => void {
  const security = Object.entries(helmetHeaders())
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (error, socket) => {
    // Reset by the peer, or already answered: nothing to write to.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable) {
      const status = statusOfClientError(error.code);
      const requestId = randomUUID();
      const body = JSON.stringify({ ...problemBase(status), requestId });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? statusTitle(status)}\r\n` +
          `content-type: ${PROBLEM_CONTENT_TYPE}\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\n` +
          `x-request-id: ${requestId}\r\n` +
          'cache-control: no-store\r\n' +
          security +
          'connection: close\r\n\r\n' +
          body,
      );
    }
    socket.destroy(error);
  };
}

/**
 * Node answers an HTTP/1.1 request without a Host header itself, with a bare 400 and no body or
 * headers, unless told not to (`requireHostHeader: false`, set in createFastifyAdapter). The rule
 * stays (RFC 9112 3.2) and is enforced here instead, after the security header hooks, so the 400
 * is the same problem+json as every other answer. Registered on every listener.
 */
export function requireHostHeader(fastify: FastifyInstance): void {
  fastify.addHook('preParsing', (request, reply, payload, done) => {
    if (request.raw.httpVersion === '1.1' && !request.headers.host) {
      // As after a parse error: this connection's next request is not worth reading.
      void reply.header('connection', 'close').header('cache-control', 'no-store');
      done(new BadRequestException());
    } else done(null, payload);
  });
}
