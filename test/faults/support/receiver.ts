import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { freePort } from './stack.js';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status answered; 0 while held, or when the sender hung up before the answer. */
  answered: number;
}

/**
 * A webhook receiver on a fixed 127.0.0.1 port that can go down (the port refuses connections)
 * and come back on the same port, and that can hold requests unanswered (a slow receiver the
 * worker is waiting on). Every request that reached it is recorded, answered or not.
 */
export class FaultReceiver {
  readonly received: Received[] = [];
  private server: Server | undefined;
  private holding = false;
  private readonly held: { res: ServerResponse; record: Received }[] = [];

  private constructor(readonly port: number) {}

  static async start(): Promise<FaultReceiver> {
    const receiver = new FaultReceiver(await freePort());
    await receiver.up();
    return receiver;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  requests(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  /** From now on, requests are recorded and left unanswered until release(). */
  hold(): void {
    this.holding = true;
  }

  /** Stops holding; the held requests are cut unanswered (their sender is gone anyway). */
  release(): void {
    this.holding = false;
    for (const { res } of this.held.splice(0)) res.destroy();
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const record: Received = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: 0 };
        this.received.push(record);
        if (this.holding) {
          this.held.push({ res, record });
          return;
        }
        record.answered = 200;
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Closes the port (connections refused) and cuts every open connection. */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.held.length = 0;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
