import { randomBytes, randomUUID } from 'node:crypto';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '@benteng/audit';
import { SystemClock } from '@benteng/common';
import { loadConfig } from '@benteng/config';
import { ACCEPT_SIGNATURE, PartnerRequestSignatures, PartnerSigningKeysRepository, SignatureError, SignatureErrorCode } from '@benteng/partners';
import { RedisSignatureNonceStore } from '../../libs/partners/src/signature-nonce-store.js';
import { HighTrust } from '../../apps/api/src/http/access.decorator.js';
import { GATE_LOG_CONTEXT } from '../../apps/api/src/http/gate/gate-log.js';
import { isHighTrust, RequestSignatureStage } from '../../apps/api/src/http/gate/request-signature.stage.js';
import type { RequestAuth } from '../../apps/api/src/http/request-auth.js';
import { auditOf } from '../support/auth-services.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPartnerClient } from '../support/partners.js';
import { contentDigest, insertSigningKey, newSigningKey, signatureHeaders, signingOrigin, type SignOptions, type TestSigningKey } from '../support/request-signing.js';
import { ready, testRedis } from '../support/redis.js';

/**
 * RequestSignatureStage (apps/api/src/http/gate/request-signature.stage.ts) in-process, on the real
 * PostgreSQL (signing keys, audit log) and Redis (nonces), with requests signed by
 * http-message-signatures as a partner would (test/support/request-signing.ts): which request the
 * stage hands the verifier (the configured origin, the body bytes, whether there is a body), what a
 * refusal carries (Accept-Signature, a log line, a `partner.signature_refused` audit entry), and
 * which routes are high trust. The running API is test/security/request-signing.spec.ts.
 */
describe('RequestSignatureStage', () => {
  const owner = ownerPool();
  const { db } = tenantDatabase();
  const redis = testRedis('request-signature-stage-spec');
  const config = loadConfig(process.env);
  const audit = new AuditLog(db);
  const signatures = new PartnerRequestSignatures(new PartnerSigningKeysRepository(db, audit), new RedisSignatureNonceStore(redis), config, new SystemClock());
  const { logger, lines, contexts } = capturingLogger();
  const sut = new RequestSignatureStage(new Reflector(), signatures, config, audit, logger);
  const PATH = '/partner/v1/invoices?draft=1';
  const ROUTE = '/partner/v1/invoices';

  class InvoicesController {
    @HighTrust()
    create(): void {}
    list(): void {}
  }
  @HighTrust()
  class HighTrustController {
    any(): void {}
  }
  const contextOf = (handler: () => void = InvoicesController.prototype.create, cls: object = InvoicesController) => ({ getHandler: () => handler, getClass: () => cls }) as unknown as ExecutionContext;
  const ordinary = () => contextOf(InvoicesController.prototype.list);

  let tenant: TestTenant;
  let auth: RequestAuth;
  let signingKey: TestSigningKey;
  let clientId: string;

  beforeAll(async () => {
    await ready(redis);
    tenant = await createTenant(owner, 'sig-stage');
    ({ clientId } = await createPartnerClient(owner, tenant.id, tenant.users.owner.id));
    signingKey = await newSigningKey();
    await insertSigningKey(owner, tenant.id, clientId, tenant.users.owner.id, signingKey);
    auth = { kind: 'partner', partner: { clientId, tenantId: tenant.id, scopes: [], tier: 'standard' }, scope: tenant.scope('owner') } as unknown as RequestAuth;
  });
  afterAll(() => redis.quit());

  interface Sent {
    method?: string;
    path?: string;
    /** The body the partner signs (its digest); undefined: no body. */
    body?: string;
    /** The bytes the server kept (default: the body; undefined: none kept). */
    raw?: Buffer | undefined;
    headers?: Record<string, string>;
    sign?: Omit<SignOptions, 'key'> & { key?: TestSigningKey };
    unsigned?: boolean;
    /** The route pattern Fastify matched (default: ROUTE; undefined: none). */
    route?: string | undefined;
  }

  /** A request as Fastify would hand it to the stage, signed with `sign` unless `unsigned`. */
  async function requestOf(sent: Sent = {}) {
    const method = sent.method ?? 'POST';
    const path = sent.path ?? PATH;
    const signed = sent.unsigned ? {} : await signatureHeaders(method, path, sent.body, { key: signingKey, ...sent.sign });
    const headers: Record<string, string> = { ...(sent.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(sent.body)) }), ...signed, ...sent.headers };
    const raw = 'raw' in sent ? sent.raw : sent.body === undefined ? undefined : Buffer.from(sent.body);
    return {
      method,
      url: path,
      headers,
      ...(raw === undefined ? {} : { rawBody: raw }),
      routeOptions: { url: 'route' in sent ? sent.route : ROUTE },
      id: `req-${randomBytes(4).toString('hex')}`,
      ip: '::ffff:198.51.100.23',
    } as unknown as FastifyRequest;
  }

  function replyOf() {
    const headers: Record<string, string> = {};
    return { headers, reply: { header: (name: string, value: string) => void (headers[name] = value) } as unknown as FastifyReply };
  }

  /** Runs the stage: the refusal code (or 'passed'), the reply headers it set. */
  async function check(sent: Sent, context: ExecutionContext = contextOf(), caller: RequestAuth = auth) {
    const request = await requestOf(sent);
    const { headers, reply } = replyOf();
    try {
      await sut.check(context, request, reply, caller);
      return { outcome: 'passed', headers, request };
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      return { outcome: error.code as string, headers, request };
    }
  }
  const body = () => JSON.stringify({ number: `S-${randomUUID().slice(0, 8)}`, lines: [] });
  const nowS = () => Math.floor(Date.now() / 1000);

  it('passes a correctly signed request with a body on a high-trust route, against the configured origin, refusing and recording nothing', async () => {
    const before = (await auditOf(owner, tenant.id, ['partner.signature_refused'])).length;
    const linesBefore = lines.length;
    expect((await check({ body: body() })).outcome).toBe('passed');
    expect(await check({ body: body() })).toMatchObject({ outcome: 'passed', headers: {} });
    expect(await auditOf(owner, tenant.id, ['partner.signature_refused'])).toHaveLength(before);
    expect(lines.length).toBe(linesBefore);
    // Signed for another origin (as if the Host header chose it): the target URI does not match.
    expect((await check({ body: body(), sign: { signedUri: `https://elsewhere.example${PATH}` } })).outcome).toBe(SignatureErrorCode.Invalid);
    expect(signingOrigin()).not.toBe('https://elsewhere.example');
  });

  it('refuses a missing signature on a high-trust route (method or class) with 401 signature.missing, Accept-Signature, a log line and an audit entry', async () => {
    const refused = await check({ body: body(), unsigned: true });
    expect(refused.outcome).toBe(SignatureErrorCode.Missing);
    expect(refused.headers).toEqual({ 'accept-signature': ACCEPT_SIGNATURE });
    expect(contexts).toContain(GATE_LOG_CONTEXT);
    expect(lines.at(-1)).toEqual({
      level: 'warn',
      fields: { event: 'partner.signature_refused', code: SignatureErrorCode.Missing, tenantId: tenant.id, clientId, ip: '198.51.100.23' },
      message: 'partner request signature refused',
    });
    expect((await auditOf(owner, tenant.id, ['partner.signature_refused'])).at(-1)).toEqual({
      type: 'partner.signature_refused',
      outcome: 'denied',
      actor: `partner:${clientId}`,
      subject: `partner_client:${clientId}`,
      ip: '198.51.100.23',
      request_id: String(refused.request.id),
      data: { code: SignatureErrorCode.Missing, route: `POST ${ROUTE}` },
    });
    expect((await check({ unsigned: true, method: 'GET' }, contextOf(HighTrustController.prototype.any, HighTrustController))).outcome).toBe(SignatureErrorCode.Missing);
    // No matched route pattern: the method alone.
    expect((await check({ body: body(), unsigned: true, route: undefined })).outcome).toBe(SignatureErrorCode.Missing);
    expect((await auditOf(owner, tenant.id, ['partner.signature_refused'])).at(-1)!.data).toEqual({ code: SignatureErrorCode.Missing, route: 'POST ' });
  });

  it('lets an unsigned request through on an ordinary route (the client does not require signatures), and ignores user callers', async () => {
    expect(await check({ body: body(), unsigned: true }, ordinary())).toMatchObject({ outcome: 'passed', headers: {} });
    const user = { kind: 'user', user: {}, scope: tenant.scope('owner') } as unknown as RequestAuth;
    expect(await check({ body: body(), unsigned: true, headers: { signature: 'garbage' } }, contextOf(), user)).toMatchObject({ outcome: 'passed', headers: {} });
  });

  it('tells high-trust routes by the handler or its class', () => {
    const reflector = new Reflector();
    expect(isHighTrust(reflector, contextOf())).toBe(true);
    expect(isHighTrust(reflector, ordinary())).toBe(false);
    expect(isHighTrust(reflector, contextOf(HighTrustController.prototype.any, HighTrustController))).toBe(true);
  });

  it('refuses a stale or future created, a key of nobody, a signature by another key, and a replayed nonce, each with its code and route in the audit', async () => {
    const other = await newSigningKey();
    const nonce = randomBytes(16).toString('base64url');
    const cases: [Sent, string][] = [
      [{ body: body(), sign: { created: nowS() - config.PARTNER_SIGNATURE_TOLERANCE_S - 120 } }, SignatureErrorCode.Expired],
      [{ body: body(), sign: { created: nowS() + config.PARTNER_SIGNATURE_TOLERANCE_S + 120 } }, SignatureErrorCode.Expired],
      [{ body: body(), sign: { key: other } }, SignatureErrorCode.UnknownKey],
      [{ body: body(), sign: { key: other, keyid: signingKey.keyid } }, SignatureErrorCode.Invalid],
      [{ method: 'GET', path: '/partner/v1/invoices', sign: { nonce } }, 'passed'],
      [{ method: 'GET', path: '/partner/v1/invoices', sign: { nonce } }, SignatureErrorCode.Replayed],
    ];
    for (const [sent, code] of cases) {
      const before = (await auditOf(owner, tenant.id, ['partner.signature_refused'])).length;
      const result = await check(sent, ordinary());
      const recorded = (await auditOf(owner, tenant.id, ['partner.signature_refused'])).slice(before).map((row) => row.data);
      const expected = code === 'passed' ? [] : [{ code, route: `${sent.method ?? 'POST'} ${ROUTE}` }];
      expect({ sign: sent.sign, outcome: result.outcome, recorded }).toEqual({ sign: sent.sign, outcome: code, recorded: expected });
    }
  });

  it('checks the body bytes as received against Content-Digest, and refuses a body whose bytes were not kept', async () => {
    const signedBody = body();
    expect((await check({ body: signedBody, raw: Buffer.from(`${signedBody} `) })).outcome).toBe(SignatureErrorCode.DigestMismatch);
    // Not kept: refused even when the digest names the empty body (fail closed).
    expect((await check({ body: signedBody, raw: undefined, sign: { digest: contentDigest('') } })).outcome).toBe(SignatureErrorCode.DigestMismatch);
  });

  it('requires content-digest in the signature whenever the request has a body: by Content-Length, Transfer-Encoding or the bytes received', async () => {
    const noDigest = { components: ['@method', '@target-uri'], digest: null };
    // Each says "there is a body" on its own; the signature leaves the digest out.
    const withBody: Sent[] = [
      { method: 'POST', raw: undefined, headers: { 'content-length': '5' }, sign: noDigest },
      { method: 'POST', raw: undefined, headers: { 'transfer-encoding': 'chunked' }, sign: noDigest },
      { method: 'POST', raw: Buffer.from('{}'), sign: noDigest },
    ];
    for (const sent of withBody) expect({ headers: sent.headers, outcome: (await check(sent, ordinary())).outcome }).toEqual({ headers: sent.headers, outcome: SignatureErrorCode.Insufficient });

    // None of them: no body, and a signature without the digest passes.
    const withoutBody: Sent[] = [
      { method: 'GET', raw: undefined, sign: noDigest },
      { method: 'GET', raw: Buffer.alloc(0), sign: noDigest },
      { method: 'GET', raw: undefined, headers: { 'content-length': '0' }, sign: noDigest },
      { method: 'GET', raw: Buffer.alloc(0), headers: { 'content-length': 'not a number' }, sign: noDigest },
    ];
    for (const sent of withoutBody) expect({ headers: sent.headers, outcome: (await check(sent, ordinary())).outcome }).toEqual({ headers: sent.headers, outcome: 'passed' });
  });
});
