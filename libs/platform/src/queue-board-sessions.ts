import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AbilityFactory } from '@benteng/authz';
import { Clock, minted } from '@benteng/common';
import { InjectRedis, type RedisClient } from '@benteng/redis';
import { OperatorAudit } from './operator-audit.js';
import { OperatorDirectory, type OperatorRecord } from './operator-directory.js';
import { OperatorError, OperatorErrorCode } from './operator-error.js';
import type { PlatformScope } from './platform-scope.js';

/** Where Bull Board is mounted, on the internal listener only. */
export const QUEUE_BOARD_PATH = '/internal/queues';
export const QUEUE_BOARD_COOKIE = 'benteng_queues';
export const QUEUE_TICKET_TTL_S = 60;
export const QUEUE_SESSION_TTL_S = 15 * 60;
const TICKET_PREFIX = 'benteng:internal:queue-ticket:';
const SESSION_PREFIX = 'benteng:internal:queue-session:';
/** 32 random bytes, base64url without padding. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const newToken = (): string => randomBytes(32).toString('base64url');
/** Redis holds only the hash of a ticket or session id: a Redis dump yields no usable cookie. */
const keyOf = (prefix: string, token: string): string => prefix + createHash('sha256').update(token).digest('hex');

/**
 * Browser access to Bull Board without a second way into the signed internal API: a signed,
 * audited operator request mints a one-time ticket (60 s); opening the board with it sets a
 * session cookie valid under /internal/queues only (15 min). Nothing outside /internal/queues
 * accepts the cookie, and the board routes accept nothing else. Who may use the board is the
 * operator rules' `manage JobQueue` (libs/authz/src/rules/operator.rules.ts), asked again at every
 * board request.
 */
@Injectable()
export class QueueBoardSessions {
  constructor(
    @InjectRedis() private readonly redis: RedisClient,
    private readonly clock: Clock,
    private readonly operators: OperatorDirectory,
    private readonly abilities: AbilityFactory,
    private readonly operatorAudit: OperatorAudit,
  ) {}

  /** A one-time login link for the board, audited with the operator's reason. */
  async issueTicket(scope: PlatformScope): Promise<{ url: string; expiresAt: string }> {
    if (!scope.ability.can('manage', 'JobQueue')) throw new OperatorError(OperatorErrorCode.Forbidden);
    const { ticket, expiresAt } = await this.createTicket(scope.operatorId);
    await this.operatorAudit.record(scope, 'internal.queue_board_ticket', QUEUE_BOARD_PATH, { service: scope.principal.service, expiresAt: expiresAt.toISOString() });
    return { url: `${QUEUE_BOARD_PATH}/?ticket=${ticket}`, expiresAt: expiresAt.toISOString() };
  }

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

  /** The operator of a ticket or session, if they are, at this request, active and allowed to manage the job queues. */
  async boardOperator(operatorId: string): Promise<OperatorRecord | undefined> {
    const operator = await this.operators.find(operatorId);
    if (operator?.status !== 'active') return undefined;
    const ability = this.abilities.forPlatform({ kind: 'operator', operatorId: operator.id, roles: operator.roles, service: 'queue-board' });
    return ability.can('manage', 'JobQueue') ? operator : undefined;
  }
}
