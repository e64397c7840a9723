import { connect } from 'node:net';

/**
 * Requests Node's HTTP parser refuses before a request object exists (issue 14): they never reach
 * a hook, guard or filter, so only the listener's clientErrorHandler can answer them
 * (apps/api/src/http/client-errors.ts). Each is written raw on a socket, for a route path of the
 * catalog, so a route added tomorrow is probed too.
 */
export interface MalformedRequest {
  name: string;
  status: number;
  /** The route paths (parameters filled with PATH_PARAMETER) the case is meaningful for; all when absent. */
  appliesTo?: (path: string) => boolean;
  /** The request for a route path (parameters filled with PATH_PARAMETER) and one of its methods. */
  bytes: (path: string, method: string) => string;
}

/** What a route path's parameters are filled with. */
export const PATH_PARAMETER = '0193b7a0-0000-7000-8000-000000000001';
const PARAM = new RegExp(PATH_PARAMETER);
const HOST = 'Host: 127.0.0.1\r\n';

export const MALFORMED_REQUESTS: MalformedRequest[] = [
  { name: 'headers larger than the parser allows', status: 431, bytes: (path) => `GET ${path} HTTP/1.1\r\n${HOST}X-Padding: ${'a'.repeat(20_000)}\r\n\r\n` },
  { name: 'many headers together larger than the parser allows', status: 431, bytes: (path) => `GET ${path} HTTP/1.1\r\n${HOST}${Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'b'.repeat(60)}\r\n`).join('')}\r\n` },
  { name: 'a malformed request line', status: 400, bytes: (path) => `GET ${path} HTTP/1.1 extra\r\n${HOST}\r\n` },
  { name: 'a control character in the path', status: 400, bytes: (path) => `GET ${path}\u0001 HTTP/1.1\r\n${HOST}\r\n` },
  { name: 'a header name with a space', status: 400, bytes: (path) => `GET ${path} HTTP/1.1\r\n${HOST}Bad Header: x\r\n\r\n` },
  { name: 'a Content-Length that is not a number', status: 400, bytes: (path) => `POST ${path} HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nContent-Length: 1x\r\n\r\n{}` },
  { name: 'a negative Content-Length', status: 400, bytes: (path) => `POST ${path} HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nContent-Length: -2\r\n\r\n{}` },
  { name: 'two different Content-Lengths', status: 400, bytes: (path) => `POST ${path} HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}` },
  { name: 'Content-Length with Transfer-Encoding (request smuggling)', status: 400, bytes: (path) => `POST ${path} HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` },
  { name: 'an unknown Transfer-Encoding', status: 400, bytes: (path) => `POST ${path} HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nTransfer-Encoding: gzip, identity\r\n\r\n{}` },
  { name: 'HTTP/1.1 without a Host header', status: 400, bytes: (path) => `GET ${path} HTTP/1.1\r\nX-A: 1\r\n\r\n` },
  { name: 'a malformed percent-encoding in the path (the router refuses it)', status: 400, bytes: (path) => `GET ${path}/%E0%A4%A HTTP/1.1\r\n${HOST}\r\n` },
  { name: 'a path parameter longer than the router allows', status: 414, appliesTo: (path) => PARAM.test(path), bytes: (path, method) => `${method} ${path.replace(PARAM, 'p'.repeat(600))} HTTP/1.1\r\n${HOST}\r\n` },
  { name: 'a bare LF line ending in the headers', status: 400, bytes: (path) => `GET ${path} HTTP/1.1\r\n${HOST}X-A: 1\nX-B: 2\r\n\r\n` },
];

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `bytes` on a new connection and reads the whole answer (the listener closes after a parse error). */
export function sendRaw(port: number, bytes: string, timeoutMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer before the timeout'));
    }, timeoutMs);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const at = line.indexOf(':');
        if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest.join('\r\n\r\n') });
    };
    // The answer is complete when the connection closes, or when its Content-Length has arrived.
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks);
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.subarray(0, Math.max(end, 0)).toString('latin1'))?.[1];
      if (end >= 0 && length !== undefined && text.length >= end + 4 + Number(length)) finish();
    });
    socket.on('error', () => undefined);
    socket.on('close', finish);
    socket.write(bytes);
  });
}
