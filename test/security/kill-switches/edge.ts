import { Body, Catch, Controller, Post, type ExceptionFilter, type Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PinoLogger } from 'nestjs-pino';
import { Anonymous } from '../../../apps/api/src/http/access.decorator.js';
import { SecurityHeaders } from '../../../apps/api/src/http/security-headers.js';
import { ProblemDetailsFilter } from '../../../apps/api/src/http/problem-details.filter.js';
import { InternalProblemDetailsFilter } from '../../../apps/api/src/internal/internal-problem-details.filter.js';
import { LogRedaction, type LoggedRequest } from '../../../apps/api/src/logging/logging.js';
import { buildApi, buildInternalApi, type BuildApiOptions, type TestApi } from '../../support/api.js';
import { ownerPool } from '../../support/db.js';
import { createTenant, type TestTenant } from '../../support/factories.js';
import { createPartnerClient, createPartnerKey } from '../../support/partners.js';
import { PublicClient, setPasswords, testPassword } from '../../support/public-api.js';
import { exchange, scenario, type KillSwitchScenario } from '../support/kill-switch.js';

// --- the controls, removed ------------------------------------------------------------------------

class NeverThrown extends Error {}

/** A filter that catches nothing: every error falls through to Nest's default handling. */
@Catch(NeverThrown)
class CatchesNothing implements ExceptionFilter {
  catch(): void {
    // Never reached: NeverThrown is never thrown.
  }
}

/** Registers no security header at all. */
class NoSecurityHeaders extends SecurityHeaders {
  override register(_app: NestFastifyApplication): Promise<void> {
    return Promise.resolve();
  }
}

/** Redacts nothing: no censored paths or fields, and the request as pino-http's standard serializer logs it (headers included). */
export class NoLogRedaction extends LogRedaction {
  override readonly paths: readonly string[] = [];

  override request(req: LoggedRequest): Record<string, unknown> {
    return { id: req.id, method: req.method, url: req.url, headers: req.headers, remoteAddress: req.remoteAddress };
  }

  override censor(fields: Record<string, unknown>): Record<string, unknown> {
    return fields;
  }
}

/**
 * Stands for any handler that logs what it received (a debugging line, an audit of a login
 * attempt): redaction by path is what keeps the password out of the log then.
 */
@Controller('probe/edge')
@Anonymous('kill-switch probe: a handler that logs its input')
export class LogsItsInputController {
  constructor(private readonly logger: PinoLogger) {}

  @Post('login')
  login(@Body() body: unknown): { ok: true } {
    this.logger.info({ login: body }, 'login attempt received');
    return { ok: true };
  }
}

// --- helpers --------------------------------------------------------------------------------------

const PROBLEM = /^application\/problem\+json/;
/** The attacker's text in a path no route serves: an error that quotes it reflects input. */
const MARKER = 'x-injected-7f3a-marker';

function removed(intact: boolean, token: unknown, useClass: Type, options: BuildApiOptions = {}): BuildApiOptions {
  return intact ? options : { ...options, overrides: [{ token, useClass }], expectLeaks: true };
}

async function inject(api: TestApi, request: { method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: string }) {
  return api.app
    .getHttpAdapter()
    .getInstance()
    .inject({ method: request.method, url: request.url, headers: request.headers ?? {}, ...(request.payload !== undefined ? { payload: request.payload } : {}) });
}

/**
 * The attack on ERROR-PROBLEM: a request for a path no route serves, carrying the attacker's markup.
 * The answer must be a fixed problem; without the filter the framework's own message quotes the
 * path back (reflected input) in a non-problem body, and names the framework.
 */
async function reflectedError(api: TestApi, prefix: string) {
  const request = { method: 'GET' as const, url: `${prefix}/${MARKER}/%3Csvg%20onload=alert(1)%3E` };
  const res = await inject(api, request);
  const contentType = String(res.headers['content-type'] ?? '').split(';')[0];
  const reflected = res.body.includes(MARKER);
  return {
    succeeded: reflected || !PROBLEM.test(contentType),
    observed: `GET ${prefix}/<attacker text> answered ${res.statusCode} ${contentType}${reflected ? ', quoting the attacker\u2019s path back' : ', a fixed body'}: ${res.body.slice(0, 160)}`,
    exchanges: [exchange(request, res)],
  };
}

/** The attack on SECURITY-HEADERS: a response a hostile page could frame or have sniffed as HTML. */
async function framable(api: TestApi, url: string) {
  const request = { method: 'GET' as const, url, headers: { origin: 'https://evil.example' } };
  const res = await inject(api, request);
  const csp = String(res.headers['content-security-policy'] ?? '');
  const frameDenied = res.headers['x-frame-options'] === 'DENY' || /frame-ancestors 'none'/.test(csp);
  const nosniff = res.headers['x-content-type-options'] === 'nosniff';
  return {
    succeeded: !frameDenied || !nosniff || !/default-src 'none'/.test(csp),
    observed: `GET ${url} answered ${res.statusCode} with ${frameDenied ? 'frame denial' : 'no frame denial'}, ${nosniff ? 'nosniff' : 'no nosniff'}, CSP ${csp ? `"${csp}"` : 'absent'}`,
    exchanges: [exchange(request, res)],
  };
}

interface LoginFixtures {
  tenant: TestTenant;
  password: string;
  partnerKey: string;
}

async function loginFixtures(): Promise<LoginFixtures> {
  const owner = ownerPool();
  try {
    const tenant = await createTenant(owner, 'ks-edge');
    const password = testPassword();
    await setPasswords(owner, [tenant.users.owner.id], password);
    const client = await createPartnerClient(owner, tenant.id, tenant.users.owner.id);
    const { key } = await createPartnerKey(owner, tenant.id, client.clientId, tenant.users.owner.id);
    return { tenant, password, partnerKey: key };
  } finally {
    await owner.end();
  }
}

// --- scenarios ------------------------------------------------------------------------------------

export const EDGE_SCENARIOS: KillSwitchScenario[] = [
  scenario<TestApi, undefined>({
    control: 'ERROR-PROBLEM',
    attack: 'a 404 of the public API quotes the attacker\u2019s path (markup) back in a framework message instead of a fixed problem',
    removal: 'ProblemDetailsFilter is replaced by a filter that catches nothing (Nest\u2019s default error handling)',
    target: (intact) => buildApi(removed(intact, ProblemDetailsFilter, CatchesNothing, { ownLogger: true })),
    run: (api) => reflectedError(api, '/v1'),
  }),
  scenario<TestApi, undefined>({
    control: 'ERROR-PROBLEM',
    attack: 'a 404 of the internal listener quotes the attacker\u2019s path (markup) back in a framework message instead of a fixed problem',
    removal: 'InternalProblemDetailsFilter is replaced by a filter that catches nothing (Nest\u2019s default error handling)',
    target: (intact) => buildInternalApi(removed(intact, InternalProblemDetailsFilter, CatchesNothing, { ownLogger: true })),
    run: (api) => reflectedError(api, '/internal/v1'),
  }),
  scenario<TestApi, undefined>({
    control: 'SECURITY-HEADERS',
    attack: 'a hostile page frames a public API response, which also lacks nosniff and CSP',
    removal: 'SecurityHeaders.register (helmet with HELMET_OPTIONS) registers nothing on the public listener',
    target: (intact) => buildApi(removed(intact, SecurityHeaders, NoSecurityHeaders, { ownLogger: true })),
    run: (api) => framable(api, '/health/live'),
  }),
  scenario<TestApi, undefined>({
    control: 'SECURITY-HEADERS',
    attack: 'a hostile page frames an internal listener response, which also lacks nosniff and CSP',
    removal: 'SecurityHeaders.register (helmet with HELMET_OPTIONS) registers nothing on the internal listener',
    target: (intact) => buildInternalApi(removed(intact, SecurityHeaders, NoSecurityHeaders, { ownLogger: true })),
    run: (api) => framable(api, '/internal/v1/openapi.json'),
  }),
  scenario<TestApi, LoginFixtures>({
    control: 'LOG-REDACTION',
    attack: 'an access token (Authorization) and a partner API key reach the request log',
    removal: 'LogRedaction is replaced by one that censors no path and logs requests with their headers',
    fixtures: loginFixtures,
    target: (intact) => buildApi(removed(intact, LogRedaction, NoLogRedaction, { ownLogger: true })),
    async run(api, { tenant, password, partnerKey }) {
      const { accessToken } = await new PublicClient(api).login(tenant.users.owner.email, password);
      const me = { method: 'GET' as const, url: '/v1/me', headers: { authorization: `Bearer ${accessToken}` } };
      const meRes = await inject(api, me);
      const partner = { method: 'GET' as const, url: '/partner/v1/invoices', headers: { authorization: `Bearer ${partnerKey}` } };
      const partnerRes = await inject(api, partner);
      const leaked = [accessToken.includes('.') && api.logs.raw.includes(accessToken) ? 'the access token' : '', api.logs.raw.includes(partnerKey) ? 'the partner API key' : ''].filter(Boolean);
      return {
        succeeded: leaked.length > 0,
        observed: `GET /v1/me answered ${meRes.statusCode}, GET /partner/v1/invoices ${partnerRes.statusCode}; the log holds ${leaked.length > 0 ? leaked.join(' and ') : 'neither credential'}`,
        exchanges: [exchange(me, meRes), exchange(partner, partnerRes)],
      };
    },
  }),
  scenario<TestApi, LoginFixtures>({
    control: 'LOG-REDACTION',
    attack: 'a handler that logs the login it received writes the password to the log',
    removal: 'LogRedaction is replaced by one that censors no path and logs requests with their headers',
    fixtures: loginFixtures,
    target: (intact) => buildApi(removed(intact, LogRedaction, NoLogRedaction, { ownLogger: true, controllers: [LogsItsInputController] })),
    async run(api, { tenant, password }) {
      const login = { method: 'POST' as const, url: '/probe/edge/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ email: tenant.users.owner.email, password }) };
      const res = await inject(api, login);
      const line = api.logs.lines.find((l) => l.msg === 'login attempt received') as { login?: { password?: unknown } } | undefined;
      const leaked = api.logs.raw.includes(password);
      return {
        succeeded: leaked,
        observed: `POST /probe/edge/login answered ${res.statusCode}; the logged password is ${leaked ? 'in clear' : JSON.stringify(line?.login?.password ?? 'absent')}`,
        exchanges: [exchange({ ...login, body: { email: tenant.users.owner.email, password: '<the user\u2019s password>' } }, res)],
      };
    },
  }),
];
