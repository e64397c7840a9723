import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { PrismaService, TenantDatabase } from '@benteng/database';
import { getEach, InjectRedis, isCluster, type RedisClient } from '@benteng/redis';
import type { Guard } from '@benteng/security';
import { Scope } from '@benteng/tenancy';

export type RevocationKind = 'session' | 'user' | 'tenant';
export interface Revocation {
  kind: RevocationKind;
  id: string;
}

const PREFIX = 'benteng:rev:';
/** Set once the markers are complete (after a resync). Absent = Redis lost its state: ask Postgres. */
const READY = `${PREFIX}ready`;
const key = (kind: RevocationKind, id: string) => `${PREFIX}${kind}:${id}`;
// No hash tags: one check reads READY and the markers of a session, a user and a tenant, and no
// one tag fits all four (a user belongs to several tenants, READY to none). On Redis Cluster the
// read is pipelined GETs (getEach) and the writes are separate SETs (writeMarkers), not an MGET or
// a MULTI, which would be refused with CROSSSLOT.

/**
 * Is this access token's session still good? Checked on every authenticated request.
 *
 * Postgres is the source of truth (sessions.revoked_at, users.status, tenants.status); Redis holds
 * a marker per revoked session, locked user and suspended tenant so the common case costs one
 * MGET, shared by all API instances. Markers live as long as an access token can, after which
 * nothing they would refuse can still be presented. The check never fails open: when Redis is
 * unreachable, or has restarted empty (no READY key), it asks Postgres instead, and a resync
 * rebuilds the markers from Postgres.
 *
 * Its two reads of Postgres (revokedInDatabase, and the resync through auth_active_revocations)
 * stay here rather than in SessionsRepository: they are the store's own source of truth, not a
 * write to any aggregate, and the store is also provided on its own by the internal API
 * (apps/api/src/internal/admin.module.ts), without the auth repositories.
 */
@Injectable()
export class RevocationStore implements OnApplicationBootstrap {
  private resyncing: Promise<void> | undefined;
  private resyncingGeneration = -1;
  /**
   * Fault fix (test/faults/redis.fault.ts): Redis connections of this process, counted up on every
   * drop. The markers are trusted only once a resync completed on the current connection
   * (`syncedGeneration === generation`). A Redis that restarts with persistence on keeps its READY
   * key from before the outage, but not the markers of revocations made while it was unreachable
   * (publish() could neither write them nor delete READY); between its return and the resync,
   * READY alone would let such a session through. Until then the check asks Postgres.
   */
  private generation = 0;
  private syncedGeneration = -1;

  constructor(
    @InjectRedis() private readonly redis: RedisClient,
    private readonly prisma: PrismaService,
    private readonly db: TenantDatabase,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(RevocationStore.name);
  }

  onApplicationBootstrap(): void {
    this.redis.on('close', () => {
      this.generation++;
    });
    // Redis Cluster: losing the connection to one node (a master that died, before or while its
    // replica is promoted) does not close the cluster client. Replication is asynchronous, so the
    // promoted replica may lack markers the old master acknowledged, while READY, on another
    // master, survives: count it as a new connection, so checks ask Postgres until a resync has
    // rewritten every marker (docs/scaling.md).
    if (isCluster(this.redis)) {
      this.redis.on('-node', () => {
        this.generation++;
      });
    }
    this.redis.on('ready', () => void this.resync());
    if (this.redis.status === 'ready') void this.resync();
  }

  private get markerTtlS(): number {
    return this.config.ACCESS_TOKEN_TTL_S + 60;
  }

  /** Publish revocations already committed to Postgres. */
  async publish(revocations: Revocation[]): Promise<void> {
    if (revocations.length === 0) return;
    try {
      await this.writeMarkers(revocations.map((r) => key(r.kind, r.id)));
    } catch {
      // The markers may be incomplete: make every instance consult Postgres until a resync.
      await this.redis.del(READY).catch(() => undefined);
      this.logger.warn({ count: revocations.length }, 'revocation markers not written; checks fall back to Postgres');
    }
  }

  /** Lift a user or tenant marker (unlock, reactivate). Postgres must already say so. */
  async lift(revocation: Revocation): Promise<void> {
    await this.redis.del(key(revocation.kind, revocation.id)).catch(async () => {
      await this.redis.del(READY).catch(() => undefined);
    });
  }

  /**
   * The keys `isRevoked` reads (READY, then the session's, the user's and the tenant's marker) as
   * guards for the gate's one round trip (RateLimiter.consumeUnless): a request whose READY is
   * absent or whose marker is present is stopped there, before any budget is consumed, and judged
   * by `isRevoked` from what was read. Undefined when the markers cannot be trusted on this
   * connection yet (Postgres must answer first) or on Redis Cluster (no script spans their slots).
   */
  guards(claims: { tid: string; sub: string; sid: string }): Guard[] | undefined {
    if (this.syncedGeneration !== this.generation || isCluster(this.redis)) return undefined;
    return [
      { key: READY, stopWhen: 'absent' },
      { key: key('session', claims.sid), stopWhen: 'present' },
      { key: key('user', claims.sub), stopWhen: 'present' },
      { key: key('tenant', claims.tid), stopWhen: 'present' },
    ];
  }

  /**
   * True when the token's session, user or tenant is revoked. `read`: the values of `guards(claims)`
   * as the gate's round trip read them; without it (or when they can no longer be trusted) the
   * markers are read here, and Postgres answers when they cannot be.
   */
  async isRevoked(claims: { tid: string; sub: string; sid: string }, read?: readonly (string | null)[]): Promise<boolean> {
    if (read !== undefined && read.length === 4 && this.syncedGeneration === this.generation) {
      const [ready, session, user, tenant] = read;
      if (ready !== null) return session !== null || user !== null || tenant !== null;
      void this.resync();
      return this.revokedInDatabase(claims);
    }
    if (this.syncedGeneration !== this.generation) {
      // Not yet resynced on this connection (see `generation`): Postgres answers.
      if (this.redis.status === 'ready') void this.resync();
      return this.revokedInDatabase(claims);
    }
    try {
      const [ready, session, user, tenant] = await getEach(this.redis, [READY, key('session', claims.sid), key('user', claims.sub), key('tenant', claims.tid)]);
      if (ready !== null) return session !== null || user !== null || tenant !== null;
      void this.resync();
    } catch {
      // Redis unreachable: fall through to the source of truth.
    }
    return this.revokedInDatabase(claims);
  }

  /** The authoritative answer, from Postgres, inside the token's tenant. */
  async revokedInDatabase(claims: { tid: string; sub: string; sid: string }): Promise<boolean> {
    const scope = Scope.for(claims.tid, { kind: 'system', name: 'auth' });
    const session = await this.db.run(scope, (tx) =>
      tx.session.findFirst({
        where: { id: claims.sid, userId: claims.sub },
        select: {
          revokedAt: true,
          expiresAt: true,
          tenant: { select: { status: true } },
          membership: { select: { user: { select: { status: true } } } },
        },
      }),
    );
    if (!session) return true;
    return session.revokedAt !== null || session.expiresAt <= this.clock.now() || session.tenant.status !== 'active' || session.membership.user.status !== 'active';
  }

  /**
   * SET each marker with the marker TTL (and `ready` without one, last). One MULTI on a single
   * Redis; on a cluster, whose MULTI may not span slots, one SET per key in the same tick (rejects
   * if any fails, so the caller treats the markers as incomplete).
   */
  private async writeMarkers(keys: string[], ready?: string): Promise<void> {
    const redis = this.redis;
    if (isCluster(redis)) {
      await Promise.all(keys.map((k) => redis.set(k, '1', 'EX', this.markerTtlS)));
      return;
    }
    const multi = redis.multi();
    for (const k of keys) multi.set(k, '1', 'EX', this.markerTtlS);
    if (ready !== undefined) multi.set(ready, '1');
    const results = await multi.exec();
    if (!results || results.some(([error]) => error)) throw new Error('MULTI failed');
  }

  /** Rebuild every marker from Postgres, then mark the store READY. One at a time per process. */
  resync(): Promise<void> {
    // One per connection: a resync begun on a connection that has since dropped does not count.
    if (this.resyncing && this.resyncingGeneration === this.generation) return this.resyncing;
    const generation = this.generation;
    const run = this.rebuild(generation).finally(() => {
      if (this.resyncing === run) this.resyncing = undefined;
    });
    this.resyncing = run;
    this.resyncingGeneration = generation;
    return run;
  }

  private async rebuild(generation: number): Promise<void> {
    try {
      const since = new Date(this.clock.now().getTime() - this.markerTtlS * 1000);
      const rows = await this.prisma.client.$queryRaw<{ kind: RevocationKind; id: string }[]>`SELECT kind, id FROM auth_active_revocations(${since})`;
      // READY last, and only once every marker is written (on a cluster they are not one MULTI).
      await this.writeMarkers(rows.map((row) => key(row.kind, row.id)), isCluster(this.redis) ? undefined : READY);
      if (isCluster(this.redis)) await this.redis.set(READY, '1');
      if (generation === this.generation) this.syncedGeneration = generation;
      this.logger.info({ markers: rows.length }, 'revocation markers rebuilt from Postgres');
    } catch (error) {
      this.logger.warn({ err: error }, 'revocation resync failed; checks keep using Postgres');
    }
  }
}
