// The API with one control switched off, for the "security tax" table of docs/benchmarks.md
// (bench/read-path.ts, BENCH_TAX). Benchmark only: the control is replaced through dependency
// injection (as the kill switches of test/security/kill-switches/ do), never by a flag in
// production code. BENCH_TAX_OFF names the control; `none` builds the same application with
// nothing replaced, so the entry point itself is not counted. Serves the public listener only.
import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { decodeJwt } from 'jose';
import { AccessTokens, RevocationStore, type AccessClaims } from '@benteng/auth';
import { AbilityFactory, type AppAbility, type Principal } from '@benteng/authz';
import { loadConfig } from '@benteng/config';
import { getEach } from '@benteng/redis';
import { AbuseDetector, RateLimiter, policyName, type Guard, type GuardedConsumption, type RateLimitResult, type RateLimitSubject, type Sensitivity } from '@benteng/security';
import { configureApiApp, createFastifyAdapter } from '../apps/api/src/app.factory.js';
import { AppModule } from '../apps/api/src/app.module.js';

/** Token check off: the token's claims are believed without its signature (nor the verification cache). */
class UnverifiedAccessTokens extends AccessTokens {
  override verify(token: string): Promise<AccessClaims> {
    return Promise.resolve(decodeJwt(token) as unknown as AccessClaims);
  }
}

/** Revocation off: no markers read, nothing ever revoked. */
class NoRevocation extends RevocationStore {
  override guards(): Guard[] {
    return [];
  }
  override isRevoked(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

/** Blocks off: no address or principal block is ever found (the principal's block key is still read inside the gate's script). */
class NoBlocks extends AbuseDetector {
  override blockedFor(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

/** Abuse counters off: nothing is counted after the response. */
class NoAbuseCounters extends AbuseDetector {
  override observe(): Promise<[]> {
    return Promise.resolve([]);
  }
}

/** Limiter off: nothing consumed; the gate's guards still read in one round trip (an MGET). */
class NoLimiter extends RateLimiter {
  override consume(subject: RateLimitSubject, sensitivity: Sensitivity): Promise<RateLimitResult> {
    return Promise.resolve({ allowed: true, policy: policyName(subject.principalClass, sensitivity), headers: {} });
  }
  override async consumeUnless(subject: RateLimitSubject, sensitivity: Sensitivity, guards: readonly Guard[]): Promise<GuardedConsumption> {
    const redis = (this as unknown as { redis: Parameters<typeof getEach>[0] }).redis;
    const values = await getEach(redis, guards.map((guard) => guard.key));
    return { reads: values.map((value) => ({ value, pttlMs: value === null ? -2 : -1 })), result: await this.consume(subject, sensitivity) };
  }
}

/** Ability built once per principal instead of per request (the rules still apply). */
class CachedAbilities extends AbilityFactory {
  private readonly cache = new Map<string, AppAbility>();
  override forTenant(tenantId: string, principal: Principal): AppAbility {
    const key = `${tenantId}|${JSON.stringify(principal)}`;
    let ability = this.cache.get(key);
    if (!ability) this.cache.set(key, (ability = super.forTenant(tenantId, principal)));
    return ability;
  }
}

const OFF: Record<string, { token: unknown; useClass: new (...args: never[]) => unknown } | undefined> = {
  none: undefined,
  'token-check': { token: AccessTokens, useClass: UnverifiedAccessTokens },
  revocation: { token: RevocationStore, useClass: NoRevocation },
  blocks: { token: AbuseDetector, useClass: NoBlocks },
  limiter: { token: RateLimiter, useClass: NoLimiter },
  'abuse-counters': { token: AbuseDetector, useClass: NoAbuseCounters },
  'casl-ability-per-request': { token: AbilityFactory, useClass: CachedAbilities },
  // Request logging off is LOG_LEVEL=warn, set by the benchmark: no class to replace.
  logging: undefined,
};

const off = process.env.BENCH_TAX_OFF ?? 'none';
if (!(off in OFF)) throw new Error(`BENCH_TAX_OFF: unknown control ${off}`);
const config = loadConfig();
let builder = Test.createTestingModule({ imports: [AppModule] });
const replaced = OFF[off];
if (replaced) builder = builder.overrideProvider(replaced.token).useClass(replaced.useClass);
const moduleRef = await builder.compile();
const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), { bufferLogs: true });
await configureApiApp(app);
await app.listen({ host: '127.0.0.1', port: config.PORT });
const stop = () => void app.close().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
