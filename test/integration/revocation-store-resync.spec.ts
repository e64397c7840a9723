import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '@benteng/redis';
import { RevocationStore } from '../../libs/auth/src/revocation-store.js';
import { authConfig, capturingLogger, systemClock } from '../support/auth-services.js';
import { tenantDatabase } from '../support/db.js';
import { ready, testRedis } from '../support/redis.js';

/**
 * RevocationStore's resync bookkeeping on the real Redis and PostgreSQL, beside
 * test/integration/revocation-store.spec.ts: the resync a connection's `ready` event starts by
 * itself, and which resync a later call joins when two connections' resyncs overlap. Connection
 * events and a held-back MULTI are injected by wrapping the real client, as in that spec; every
 * other command reaches the real Redis.
 */
const { db, prisma } = tenantDatabase();
const redis = testRedis('revocation-store-resync-spec');

beforeAll(async () => {
  await ready(redis);
});
afterAll(() => {
  redis.disconnect();
});

const REBUILT = 'revocation markers rebuilt from Postgres';
const claims = () => ({ tid: randomUUID(), sub: randomUUID(), sid: randomUUID() });

/** The real client with its own connection events (`emit`) and commands replaced by `overrides`. */
function wrapped(overrides: Record<string, unknown> = {}) {
  const events = new EventEmitter();
  const client = new Proxy(redis, {
    get(target, prop) {
      if (prop === 'on') return (event: string, listener: (...args: unknown[]) => void) => (events.on(event, listener), client);
      if (typeof prop === 'string' && prop in overrides) return overrides[prop];
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as RedisClient;
  return { client, emit: (event: string) => events.emit(event) };
}

/**
 * A client whose `held`-th MULTI (1: the first resync's, 2: the next one's) waits for `release()`
 * before it executes; `firstAtMulti` settles when the first resync reaches its MULTI.
 */
function holdingMulti(held: 1 | 2) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let multis = 0;
  let reached!: () => void;
  const firstAtMulti = new Promise<void>((resolve) => (reached = resolve));
  const { client, emit } = wrapped({
    multi: () => {
      const multi = redis.multi();
      const mine = ++multis;
      if (mine === 1) reached();
      const exec = async () => {
        if (mine === held) await gate;
        return multi.exec();
      };
      return { set: (...args: Parameters<typeof multi.set>) => void multi.set(...args), exec };
    },
  });
  return { client, emit, firstAtMulti, release };
}

function store(client: RedisClient) {
  const { logger, lines } = capturingLogger();
  const sut = new RevocationStore(client, prisma, db, authConfig(), systemClock(), logger);
  return { sut, lines };
}

describe('RevocationStore resync bookkeeping', () => {
  it("Redis's 'ready' after a dropped connection starts the resync by itself, and its end makes the markers trusted again", async () => {
    const { client, emit } = wrapped();
    const { sut, lines } = store(client);
    sut.onApplicationBootstrap();
    await Reflect.get(sut, 'resyncing');
    const c = claims();
    expect(sut.guards(c)).toHaveLength(4);

    emit('close');
    expect(sut.guards(c)).toBeUndefined();
    expect(Reflect.get(sut, 'resyncing')).toBeUndefined();
    emit('ready');
    const started = Reflect.get(sut, 'resyncing') as Promise<void> | undefined;
    expect(started).toBeInstanceOf(Promise);
    await started;
    expect(lines.filter((l) => l.message === REBUILT)).toHaveLength(2);
    expect(sut.guards(c)).toHaveLength(4);
  });

  it("an earlier connection's resync that ends first does not hand the next call a new resync while the current connection's still runs", async () => {
    // The second resync's MULTI (the current connection's) is held back until the first has ended.
    const { client, emit, firstAtMulti, release } = holdingMulti(2);
    const { sut, lines } = store(client);
    sut.onApplicationBootstrap(); // Redis is ready: the first connection's resync starts
    const first = Reflect.get(sut, 'resyncing') as Promise<void>;
    expect(first).toBeInstanceOf(Promise);
    await firstAtMulti; // so the next MULTI is the current connection's
    emit('close');
    const current = sut.resync();
    expect(current).not.toBe(first);
    await first;
    expect(sut.resync()).toBe(current);
    release();
    await current;
    expect(lines.filter((l) => l.message === REBUILT)).toHaveLength(2);
    expect(sut.guards(claims())).toHaveLength(4);
  });

  it("an earlier connection's resync that ends last does not take back the trust the current connection's resync gave", async () => {
    // The first resync's MULTI (the dropped connection's) is held back until the current one has ended.
    const { client, emit, firstAtMulti, release } = holdingMulti(1);
    const { sut, lines } = store(client);
    sut.onApplicationBootstrap();
    const first = Reflect.get(sut, 'resyncing') as Promise<void>;
    await firstAtMulti;
    emit('close');
    await sut.resync();
    const c = claims();
    expect(sut.guards(c)).toHaveLength(4);
    release();
    await first;
    expect(lines.filter((l) => l.message === REBUILT)).toHaveLength(2);
    expect(sut.guards(c)).toHaveLength(4);
  });
});
