import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { PlatformAuditLog } from '@benteng/audit';
import { AppConfig } from '@benteng/config';
import { QUEUE_BOARD_COOKIE, QUEUE_BOARD_PATH, QUEUE_SESSION_TTL_S, QueueBoardQueues, QueueBoardSessions, type OperatorRecord, type PlatformScope } from '@benteng/platform';
import { clientIp } from '@benteng/security';
import { InternalAccess } from '../http/access.decorator.js';
import { toProblem } from '../http/problem-details.filter.js';
import { PROBLEM_CONTENT_TYPE, RefusalException } from '../http/problem.js';
import { CurrentPlatformScope } from './verified-service-request.js';

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
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

@Controller('internal/v1/queues')
export class QueueBoardController {
  constructor(private readonly sessions: QueueBoardSessions) {}

  /** A one-time login link for Bull Board (libs/platform/src/queue-board-sessions.ts), with a reason. */
  @Post('session')
  @HttpCode(201)
  @InternalAccess('manage', 'JobQueue')
  createSession(@CurrentPlatformScope() scope: PlatformScope) {
    return this.sessions.issueTicket(scope);
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
 * only a valid ticket or session cookie of an operator who is, at this request, active and allowed
 * to manage the job queues (QueueBoardSessions.boardOperator). State-changing board API calls also
 * need `content-type: application/json` (a cross-site form cannot send it without a CORS preflight,
 * which this listener never answers) and are logged and platform-audited. The adapters are
 * read-only regardless.
 */
export async function registerQueueBoard(app: NestFastifyApplication): Promise<void> {
  const config = app.get(AppConfig);
  const sessions = app.get(QueueBoardSessions);
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
    const operator = await sessions.boardOperator(operatorId);
    if (!operator) return void (await refuse(request, reply, 'operator_not_allowed'));
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
