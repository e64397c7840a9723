import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as received (what the signature covers). */
  body: string;
  /** The status this receiver answered. */
  answered: number;
  receivedAt: Date;
}

export interface Behaviour {
  /** Answer the first `failTimes` requests with `failStatus` (default 500). */
  failTimes?: number;
  failStatus?: number;
  /** The body of those failures (default "receiver failure"). */
  failBody?: string;
  /** The status of every other request (default 200). */
  status?: number;
  /** The body of every other request (default "ok"). */
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Delay only the first `delayTimes` requests (default: every request). */
  delayTimes?: number;
}

/**
 * A local webhook receiver for the e2e tests: an HTTP server on 127.0.0.1 that records every
 * request and answers per path as told (fail N times, answer 410, be slow). Each test uses its own
 * path, so one receiver serves a whole file.
 */
export class WebhookReceiver {
  private readonly received: ReceivedRequest[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly counts = new Map<string, number>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => void receiver!.answer(req.method ?? '', req.url ?? '/', req.headers, Buffer.concat(chunks).toString('utf8'), res));
    });
    receiver = new WebhookReceiver(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** http://127.0.0.1:<port><path> */
  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The same receiver by a host name (localhost), for the connect-time address check. */
  hostUrl(host: string, path: string): string {
    return `http://${host}:${this.port}${path}`;
  }

  respond(path: string, behaviour: Behaviour): void {
    this.behaviours.set(path, behaviour);
  }

  requests(path?: string): ReceivedRequest[] {
    return this.received.filter((r) => path === undefined || r.path === path);
  }

  /** Resolves with the path's requests once there are at least `count`; rejects after `ms`. */
  async waitFor(path: string, count: number, ms = 15_000): Promise<ReceivedRequest[]> {
    const deadline = Date.now() + ms;
    while (this.requests(path).length < count) {
      if (Date.now() > deadline) throw new Error(`receiver: expected ${count} request(s) on ${path}, got ${this.requests(path).length}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.requests(path);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async answer(method: string, path: string, headers: IncomingHttpHeaders, body: string, res: import('node:http').ServerResponse): Promise<void> {
    const behaviour = this.behaviours.get(path) ?? {};
    const n = (this.counts.get(path) ?? 0) + 1;
    this.counts.set(path, n);
    const failing = n <= (behaviour.failTimes ?? 0);
    const status = failing ? (behaviour.failStatus ?? 500) : (behaviour.status ?? 200);
    const text = failing ? (behaviour.failBody ?? 'receiver failure') : (behaviour.body ?? 'ok');
    if (behaviour.delayMs && n <= (behaviour.delayTimes ?? Number.POSITIVE_INFINITY)) await new Promise((r) => setTimeout(r, behaviour.delayMs));
    this.received.push({ method, path, headers, body, answered: status, receivedAt: new Date() });
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
  }
}
