import { Controller, Get, Header, Injectable, type INestApplication } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import { controllerClasses, listRoutes } from '../http/route-catalog.js';
import { PROBLEM_CONTENT_TYPE, statusTitle } from '../http/problem.js';
import { InternalService } from '../http/access.decorator.js';
import { boundRequestSchema } from '../openapi/openapi.bounds.js';
import { LICENSE, rateLimitHeaders, RATE_LIMIT_HEADERS, server, uuidParamsOf } from '../openapi/openapi.common.js';
import { INTERNAL_OPERATIONS, operationName } from '../openapi/openapi.operations.js';

const SIGNATURE = 'serviceSignature';
const SCRAPE = 'scrapeCredential';
/** Answers that are not JSON: the Prometheus text exposition format. */
const NON_JSON: Record<string, Record<string, { schema: object }>> = {
  'MetricsController.scrape': { 'text/plain': { schema: { type: 'string', description: 'Prometheus text exposition format 0.0.4' } } },
};
const PROBLEM_MEDIA = PROBLEM_CONTENT_TYPE.split(';')[0]!;
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type Document = { openapi: string; info: Record<string, unknown>; servers: object[]; paths: Record<string, Record<string, unknown>>; components: Record<string, unknown> };
/** The signed reason header: 3-500 characters once decoded, each at most 4 UTF-8 bytes of 3 characters (`%XX`) percent-encoded. */
const REASON_MAX_ENCODED = 500 * 4 * 3;

/** The status a handler answers with: its @HttpCode, else Nest's default (201 for POST, 200 otherwise). */
function successStatus(controller: Function | undefined, handler: string, method: string): number {
  const declared: unknown = controller ? Reflect.getMetadata(HTTP_CODE_METADATA, (controller.prototype as Record<string, object>)[handler]!) : undefined;
  return typeof declared === 'number' ? declared : method === 'POST' ? 201 : 200;
}

/**
 * The internal listener's own OpenAPI document, built from its route catalog: only the routes
 * this application serves (it has no public or partner routes to leak), each with the operator
 * permission it requires (`x-benteng-access`) and the signature it needs.
 */
export function buildInternalOpenApi(app: INestApplication): Document {
  const paths: Document['paths'] = {};
  const classes = controllerClasses(app);
  for (const route of listRoutes(app).filter((r) => r.surface === 'internal')) {
    const path = route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const access = route.access;
    // 429 and RateLimit headers: InternalAccessGuard limits every signed request (the operator row of RATE_LIMIT_POLICY).
    const errors = [401, 429, 500, 503, ...(access?.auth === 'internal-operator' ? [403] : []), ...(STATE_CHANGING.has(route.method) ? [400] : [])].sort();
    const name = operationName(INTERNAL_OPERATIONS, `${route.controller}.${route.handler}`);
    const tag = route.controller.replace(/^Internal/, '').replace(/Controller$/, '');
    const controller = classes.get(route.controller);
    const uuids = controller ? uuidParamsOf(controller, route.handler) : new Set<string>();
    const pathParameters = [...path.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map(([, param]) => ({
      name: param!,
      in: 'path',
      required: true,
      schema: uuids.has(param!) ? { type: 'string', format: 'uuid' } : { type: 'string', maxLength: 256 },
    }));
    const parameters = [
      ...pathParameters,
      { name: 'X-Benteng-Operator', in: 'header', required: access?.auth === 'internal-operator', schema: { type: 'string', format: 'uuid' } },
      ...(STATE_CHANGING.has(route.method)
        ? [{ name: 'X-Benteng-Reason', in: 'header', required: true, description: 'Percent-encoded UTF-8, 3-500 characters; signed.', schema: { type: 'string', pattern: `^[\\x20-\\x7e]{3,${REASON_MAX_ENCODED}}$` } }]
        : []),
    ];
    boundRequestSchema(parameters);
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      operationId: name.id,
      summary: name.summary,
      tags: [tag],
      security: [{ [SIGNATURE]: [] }, ...(access?.auth === 'internal-operator' && access.scrapeCredential ? [{ [SCRAPE]: [] }] : [])],
      ...(access?.auth === 'internal-operator' ? { 'x-benteng-access': { action: access.action, subject: access.subject } } : {}),
      parameters,
      responses: {
        [String(successStatus(controller, route.handler, route.method))]: { description: 'OK', headers: rateLimitHeaders('counted'), content: NON_JSON[`${route.controller}.${route.handler}`] ?? { 'application/json': { schema: { type: 'object' } } } },
        ...Object.fromEntries(
          errors.map((status) => [
            String(status),
            {
              description: statusTitle(status),
              ...(status < 500 ? { headers: rateLimitHeaders(status === 429 ? 'refused' : 'maybe') } : {}),
              content: { [PROBLEM_MEDIA]: { schema: { $ref: '#/components/schemas/Problem' } } },
            },
          ]),
        ),
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Benteng internal API', version: '1', description: 'Operators and services only, on the internal listener. Every request is signed (docs/internal-signatures.md).', license: LICENSE },
    servers: [server(true)],
    paths,
    components: {
      // Creates with Idempotency-Key are public and partner routes only.
      headers: Object.fromEntries(Object.entries(RATE_LIMIT_HEADERS).filter(([name]) => name !== 'Idempotent-Replayed')),
      securitySchemes: {
        [SIGNATURE]: { type: 'apiKey', in: 'header', name: 'X-Benteng-Signature', description: 'BENTENG-HMAC-SHA256 over the canonical request, with X-Benteng-Key-Id, X-Benteng-Timestamp and X-Benteng-Nonce.' },
        [SCRAPE]: { type: 'http', scheme: 'bearer', description: 'A Prometheus scrape credential (bt_ms_…, docs/metrics.md): GET /internal/metrics only.' },
      },
      schemas: {
        Problem: { type: 'object', required: ['type', 'title', 'status'], properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, requestId: { type: 'string' } } },
      },
    },
  };
}

/** Holds the internal application (bound in configureInternalApp) and builds its document once. */
@Injectable()
export class InternalOpenApiDocument {
  private app: INestApplication | undefined;
  private document: Document | undefined;

  bind(app: INestApplication): void {
    this.app = app;
  }

  get(): Document {
    if (!this.app) throw new Error('InternalOpenApiDocument is not bound to the application');
    return (this.document ??= buildInternalOpenApi(this.app));
  }
}

@Controller('internal/v1')
export class InternalOpenApiController {
  constructor(private readonly document: InternalOpenApiDocument) {}

  @Get('openapi.json')
  @Header('cache-control', 'no-store')
  @InternalService('the internal API description, for internal services and the CLI; still signed')
  openapi() {
    return this.document.get();
  }
}
