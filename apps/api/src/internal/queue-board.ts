import { createHash, randomBytes } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Controller, HttpCode, HttpStatus, Injectable, Post, Req, type OnModuleDestroy } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { PinoLogger } from 'nestjs-pino';
import { PlatformAuditLog } from '@benteng/audit';
import { principalId } from '@benteng/authz';
import { Clock, minted } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { JOBS_QUEUE, PLATFORM_QUEUE } from '@benteng/jobs';
import { OperatorDirectory, type OperatorRecord } from '@benteng/operators';
import { InjectRedis } from '@benteng/redis';
import { clientIp } from '@benteng/security';
import { InternalAccess } from '../http/access.decorator.js';
import { toProblem } from '../http/problem-details.filter.js';
import { PROBLEM_CONTENT_TYPE, RefusalException } from '../http/problem.js';
import { CurrentOperator, type OperatorContext } from './internal-auth.js';

/** Where Bull Board is mounted, on the internal listener only. */
export const QUEUE_BOARD_PATH = '/internal/queues';

/**
 * Bull Board's page under /internal/queues: its own scripts, styles, images and API calls from this
 * origin, nothing from anywhere else (its Google Fonts link is refused; the system font is used).
 * The one `unsafe-*`: 'unsafe-inline' for style attributes and the page's one <style> element,
 * which the board's HTML and React components use; inline styles cannot run code. Scripts stay
 * 'self' only (the page's one inline <script> is JSON data, which no policy executes).
 */
export const QUEUE_BOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
export const QUEUE_BOARD_COOKIE = 'benteng_queues';
export const QUEUE_TICKET_TTL_S = 60;
export const QUEUE_SESSION_TTL_S = 15 * 60;
const TICKET_PREFIX = 'benteng:internal:queue-ticket:';
const SESSION_PREFIX = 'benteng:internal:queue-session:';
/** 32 random bytes, base64url without padding. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const newToken = (): string => randomBytes(32).toString('base64url');
/** Redis holds only the hash of a ticket or session id: a Redis dump yields no usable cookie. */
const keyOf = (prefix: string, token: string): string => prefix + createHash('sha256').update(token).digest('hex');
const isBoardAdmin = (operator: OperatorRecord | undefined): operator is OperatorRecord => operator?.status === 'active' && operator.roles.includes('platform-admin');

/**
 * Browser access to Bull Board without a second way into the signed internal API: a signed,
 * audited operator request mints a one-time ticket (60 s); opening the board with it sets a
 * session cookie valid under /internal/queues only (15 min). Nothing outside /internal/queues
 * accepts the cookie, and the board routes accept nothing else.
 */
@Injectable()
export class QueueBoardSessions {
  constructor(
    @InjectRedis() private readonly redis: Redis,
    private readonly clock: Clock,
  ) {}

  async createTicket(operatorId: string): Promise<{ ticket: string; expiresAt: Date }> {
    const ticket = minted('queue board ticket', newToken());
    const stored = await this.redis.set(keyOf(TICKET_PREFIX, ticket), operatorId, 'EX', QUEUE_TICKET_TTL_S, 'NX');
    if (stored !== 'OK') throw new Error('queue board ticket collision');
    return { ticket, expiresAt: new Date(this.clock.now().getTime() + QUEUE_TICKET_TTL_S * 1000) };
  }

  /** Atomically consumes a ticket: a second use finds nothing. */
  async redeemTicket(ticket: string): Promise<string | null> {
    if (!TOKEN.test(ticket)) return null;
    return this.redis.getdel(keyOf(TICKET_PREFIX, ticket));
  }

  async createSession(operatorId: string): Promise<string> {
    const session = minted('queue board session', newToken());
    await this.redis.set(keyOf(SESSION_PREFIX, session), operatorId, 'EX', QUEUE_SESSION_TTL_S, 'NX');
    return session;
  }

  async sessionOperator(session: string): Promise<string | null> {
    if (!TOKEN.test(session)) return null;
    return this.redis.get(keyOf(SESSION_PREFIX, session));
  }
}

/** The BullMQ queues the board shows ('jobs' and 'platform', prefix QUEUE_PREFIX), read-only. */
@Injectable()
export class QueueBoardQueues implements OnModuleDestroy {
  readonly queues: Queue[];

  constructor(config: AppConfig) {
    this.queues = [JOBS_QUEUE, PLATFORM_QUEUE].map(
      (name) => new Queue(name, { connection: { url: config.REDIS_URL, maxRetriesPerRequest: 1, connectionName: 'benteng-queue-board' }, prefix: config.QUEUE_PREFIX }),
    );
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.allSettled(this.queues.map((q) => q.close()));
  }
}

@Controller('internal/v1/queues')
export class QueueBoardController {
  constructor(
    private readonly sessions: QueueBoardSessions,
    private readonly audit: PlatformAuditLog,
  ) {}

  /** A one-time login link for Bull Board, for a platform-admin, with a reason. */
  @Post('session')
  @HttpCode(201)
  @InternalAccess('manage', 'Tenant', { roles: ['platform-admin'] })
  async createSession(@CurrentOperator() operator: OperatorContext, @Req() request: FastifyRequest) {
    const { ticket, expiresAt } = await this.sessions.createTicket(operator.record.id);
    await this.audit.record({
      type: 'internal.queue_board_ticket',
      outcome: 'success',
      actor: principalId(operator.principal),
      subject: QUEUE_BOARD_PATH,
      reason: operator.reason,
      ip: clientIp(request),
      requestId: String(request.id),
      data: { service: operator.principal.service, expiresAt: expiresAt.toISOString() },
    });
    return { url: `${QUEUE_BOARD_PATH}/?ticket=${ticket}`, expiresAt: expiresAt.toISOString() };
  }
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

type BoardRequest = FastifyRequest & { queueBoardOperator?: OperatorRecord };

/**
 * Mounts Bull Board at /internal/queues inside its own Fastify scope, whose onRequest hook admits
 * only a valid ticket or session cookie of an operator who is, at this request, an active
 * platform-admin. State-changing board API calls also need `content-type: application/json`
 * (a cross-site form cannot send it without a CORS preflight, which this listener never answers)
 * and are logged and platform-audited. The adapters are read-only regardless.
 */
export async function registerQueueBoard(app: NestFastifyApplication): Promise<void> {
  const config = app.get(AppConfig);
  const sessions = app.get(QueueBoardSessions);
  const operators = app.get(OperatorDirectory);
  const audit = app.get(PlatformAuditLog);
  const logger = await app.resolve(PinoLogger);
  logger.setContext('QueueBoard');
  const { queues } = app.get(QueueBoardQueues);

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Benteng queues' } },
  });

  const refuse = (request: FastifyRequest, reply: FastifyReply, cause: string, status: 401 | 403 = 401) => {
    logger.warn({ event: 'internal.queue_board_refused', cause, method: request.method, path: request.url.split('?')[0], ip: clientIp(request) }, 'queue board request refused');
    // 401: no valid ticket or session (the cause stays in the log); 403: a state-changing call
    // without `content-type: application/json` (the CSRF gate).
    const problem = toProblem(status === 401 ? new RefusalException(HttpStatus.UNAUTHORIZED, 'queue_board.session_required') : new RefusalException(HttpStatus.FORBIDDEN, 'queue_board.json_required'), String(request.id));
    return reply.status(status).header('content-type', PROBLEM_CONTENT_TYPE).header('cache-control', 'no-store').send(problem);
  };

  const gate = async (request: BoardRequest, reply: FastifyReply): Promise<void> => {
    const query = request.url.includes('?') ? new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1)) : undefined;
    const ticket = query?.get('ticket');
    let operatorId: string | null;
    let fresh = false;
    if (ticket !== undefined && ticket !== null) {
      operatorId = await sessions.redeemTicket(ticket);
      fresh = true;
      if (!operatorId) return void (await refuse(request, reply, 'unknown_ticket'));
    } else {
      const session = cookieValue(request.headers.cookie, QUEUE_BOARD_COOKIE);
      operatorId = session ? await sessions.sessionOperator(session) : null;
      if (!operatorId) return void (await refuse(request, reply, session ? 'unknown_session' : 'missing_session'));
    }
    const operator = await operators.find(operatorId);
    if (!isBoardAdmin(operator)) return void (await refuse(request, reply, 'operator_not_allowed'));
    if (STATE_CHANGING.has(request.method)) {
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (contentType !== 'application/json') return void (await refuse(request, reply, 'csrf_content_type', 403));
    }
    request.queueBoardOperator = operator;
    reply.header('cache-control', 'no-store');
    if (fresh) {
      const session = await sessions.createSession(operator.id);
      const secure = config.NODE_ENV === 'production' ? '; Secure' : '';
      reply.header('set-cookie', `${QUEUE_BOARD_COOKIE}=${session}; Path=${QUEUE_BOARD_PATH}; Max-Age=${QUEUE_SESSION_TTL_S}; HttpOnly; SameSite=Strict${secure}`);
      await audit.record({
        type: 'internal.queue_board_opened',
        outcome: 'success',
        actor: `operator:${operator.id}`,
        subject: QUEUE_BOARD_PATH,
        ip: clientIp(request),
        requestId: String(request.id),
      });
    }
  };

  const auditChange = async (request: BoardRequest, reply: FastifyReply): Promise<void> => {
    const operator = request.queueBoardOperator;
    if (!operator || !STATE_CHANGING.has(request.method)) return;
    const path = request.url.split('?')[0]!;
    logger.info({ event: 'internal.queue_board_action_log', operatorId: operator.id, method: request.method, path, status: reply.statusCode }, 'queue board action');
    try {
      await audit.record({
        type: 'internal.queue_board_action',
        outcome: reply.statusCode < 400 ? 'success' : 'failure',
        actor: `operator:${operator.id}`,
        subject: `${request.method} ${path}`,
        ip: clientIp(request),
        requestId: String(request.id),
        data: { status: reply.statusCode },
      });
    } catch {
      // PlatformAuditLog already logged the failure with the event.
    }
  };

  await app.register(
    async (scope: FastifyInstance) => {
      scope.addHook('onRequest', gate);
      scope.addHook('onResponse', auditChange);
      // The board is a browser application; the listener's API policy (default-src 'none') would
      // leave it on "Loading". Under /internal/queues only, the policy allows exactly what it loads.
      scope.addHook('onSend', (_request, reply, payload, done) => {
        reply.header('content-security-policy', QUEUE_BOARD_CSP);
        done(null, payload);
      });
      await scope.register(serverAdapter.registerPlugin() as never);
    },
    { prefix: QUEUE_BOARD_PATH },
  );
}
