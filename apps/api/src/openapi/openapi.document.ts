import { type INestApplication, type Type } from '@nestjs/common';
import { INTERCEPTORS_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { ValidationTypes } from 'class-validator';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { AppConfig } from '@benteng/config';
import { controllerClasses, listRoutes, surfaceOf, type RouteEntry } from '../http/route-catalog.js';
import { ROUTE_HIGH_TRUST } from '../http/access.decorator.js';
import { IdempotencyInterceptor } from '../http/idempotency.js';
import { declaredMediaTypes } from '../http/media-types.js';
import { FILE_FIELD, UPLOAD_FIELDS } from '../http/single-file-upload.interceptor.js';
import { PROBLEM_CONTENT_TYPE, statusTitle } from '../http/problem.js';
import { PartnerModule } from '../partner/partner.module.js';
import { IGNORES_UNKNOWN_PARAMETERS } from '../partner/token-parameters.pipe.js';
import { PublicModule } from '../public/public.module.js';
import {
  CLIENT_AUTH_OPERATIONS,
  CLIENT_SECRET_BASIC,
  PARTNER_EXTRA_ERRORS,
  PARTNER_ERROR_BODIES,
  PARTNER_RESPONSE_SCHEMAS,
  PARTNER_SECURITY_SCHEMES,
  PARTNER_SUCCESS_BODIES,
  partnerSecurity,
} from './openapi.partner.js';
import { boundRequestSchema, normalizeDtoSchema } from './openapi.bounds.js';
import { operationName, PARTNER_OPERATIONS, PUBLIC_OPERATIONS, type OperationName } from './openapi.operations.js';
import { LICENSE, rateLimitHeaders, RATE_LIMIT_HEADERS, server, uuidParamsOf } from './openapi.common.js';
import { EXTRA_ERRORS, ref, RESPONSE_SCHEMAS, SUCCESS_BODIES, type SuccessBody } from './openapi.schemas.js';

type Schema = Record<string, unknown>;
type Parameter = { name: string; in: string; required?: boolean; schema?: Schema; description?: string };
interface Operation {
  operationId: string;
  summary?: string;
  description?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; headers?: Record<string, Schema>; content?: Record<string, { schema: Schema }> }>;
  security?: Record<string, string[]>[];
}

export const BEARER = 'bearer';
const PROBLEM_MEDIA = PROBLEM_CONTENT_TYPE.split(';')[0]!;

/** The surfaces that publish an OpenAPI document; each lists only its own routes. */
export const API_SURFACES = ['public', 'partner'] as const;
export type ApiSurface = (typeof API_SURFACES)[number];

/** What a surface's document is made of: its module's routes, its schemes, and its per-operation tables. */
interface SurfaceDescription {
  module: Type;
  config: () => Omit<OpenAPIObject, 'paths'>;
  /** Which paths of the module's routes belong in the document (an OpenAPI path, `{id}` style). */
  includes: (path: string) => boolean;
  responseSchemas: Record<string, Schema>;
  successBodies: Record<string, SuccessBody>;
  extraErrors: Record<string, number[]>;
  /** operationId and summary of each operation (openapi.operations.ts). */
  operations: Record<string, OperationName>;
  /** The security requirements, errors, media types and description the route's access implies. */
  access: (route: RouteEntry, key: string) => AccessDescription;
}

interface AccessDescription {
  security: Record<string, string[]>[];
  /** Errors the route's authentication and authorization add (401, 403, ...). */
  errors: number[];
  description?: string;
  /** Errors that are not problem+json (the token endpoint's RFC 6749 JSON). */
  errorBody?: { media: string; schema: string };
  /** Request headers the route's authentication reads beyond Authorization (the partner surface's RFC 9421 signature). */
  headers?: (highTrust: boolean) => { name: string; in: 'header'; required: boolean; schema: Schema; description: string }[];
  /** Said of a high-trust route (@HighTrust), after the description. */
  highTrustNote?: string;
}

/** What a high-trust partner operation says about signatures (apps/api/src/http/access.decorator.ts, HighTrust). */
export const HIGH_TRUST_NOTE =
  'High trust: a client with at least one active request-signing key must sign this request (RFC 9421: Signature, Signature-Input, Content-Digest), even when it does not require signatures on every request.';

/**
 * The RFC 9421 / RFC 9530 headers of a partner request (docs/request-signing.md): optional in the
 * schema because a client that has no signing key and does not require signatures sends none; a
 * client that must sign and does not gets 401 `signature.missing` with Accept-Signature.
 */
function signatureHeaders(withBody: boolean, highTrust: boolean): { name: string; in: 'header'; required: boolean; schema: Schema; description: string }[] {
  const when = highTrust ? 'Required from a client with an active signing key, and from a client that requires signatures.' : 'Required from a client that requires signatures (requireSignatures).';
  return [
    {
      name: 'Signature-Input',
      in: 'header',
      required: false,
      schema: { type: 'string', maxLength: 1000 },
      description: `RFC 9421 signature parameters, e.g. \`sig1=("@method" "@target-uri"${withBody ? ' "content-digest"' : ''});created=1765100000;keyid="<thumbprint>";nonce="<random>";alg="ed25519"\`. Covered: @method, @target-uri (the API's public origin + path and query as sent)${withBody ? ', content-digest' : ''}; parameters created (within PARTNER_SIGNATURE_TOLERANCE_S), keyid (the key's RFC 7638 thumbprint), nonce (16-128 characters, never reused), alg (ed25519, optional). ${when}`,
    },
    { name: 'Signature', in: 'header', required: false, schema: { type: 'string', maxLength: 200 }, description: 'RFC 9421 signature: `sig1=:<base64 Ed25519 signature>:`. Exactly one signature per request.' },
    ...(withBody
      ? [{ name: 'Content-Digest', in: 'header' as const, required: false, schema: { type: 'string', maxLength: 300 }, description: 'RFC 9530 digest of the body as sent: `sha-256=:<base64>:` and/or `sha-512=:<base64>:`. Required (and covered by the signature) on a signed request with a body.' }]
      : []),
  ];
}

const SURFACES: Record<ApiSurface, SurfaceDescription> = {
  public: {
    module: PublicModule,
    config: () =>
      new DocumentBuilder()
        .setTitle('Benteng public API')
        .setDescription('Tenant users with short-lived access tokens. Every error is RFC 9457 application/problem+json.')
        .setVersion('1')
        .setLicense(LICENSE.name, LICENSE.url)
        .addBearerAuth(
          {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            // libs/auth/src/access-tokens.ts: one pinned algorithm per key, exact audience and issuer, bounded lifetime.
            description: 'Access token from POST /v1/auth/login: a short-lived JWT verified per RFC8725 (pinned algorithm, exact audience and issuer, bounded lifetime).',
          },
          BEARER,
        )
        .build(),
    // /v1 and the key set its tokens are verified with (/.well-known); never another surface's routes.
    includes: (path) => surfaceOf(path) === 'public' || surfaceOf(path) === 'ops',
    responseSchemas: RESPONSE_SCHEMAS,
    successBodies: SUCCESS_BODIES,
    extraErrors: EXTRA_ERRORS,
    operations: PUBLIC_OPERATIONS,
    access: (route) =>
      route.access?.auth === 'public-jwt' ? { security: [{ [BEARER]: [] }], errors: [401, 403, ...(route.method !== 'GET' ? [409] : [])] } : { security: [], errors: [] },
  },
  partner: {
    module: PartnerModule,
    config: () => {
      const config = new DocumentBuilder()
        .setTitle('Benteng partner API')
        .setDescription(
          'Partner clients of one tenant, authenticated by an API key or a client-credentials access token (POST /partner/oauth/token). ' +
            'Each route needs one scope of the client; the client, its keys, its tenant and its IP allowlist are checked again on every request. ' +
            'Every error is RFC 9457 application/problem+json, except those of the token endpoint: RFC 6749 5.2 application/json (`error`, `error_description`). ' +
            'OAuth metadata (RFC 8414): /.well-known/oauth-authorization-server.',
        )
        .setVersion('1')
        .setLicense(LICENSE.name, LICENSE.url)
        .build();
      return { ...config, components: { ...config.components, securitySchemes: PARTNER_SECURITY_SCHEMES } };
    },
    includes: (path) => surfaceOf(path) === 'partner',
    responseSchemas: PARTNER_RESPONSE_SCHEMAS,
    successBodies: PARTNER_SUCCESS_BODIES,
    extraErrors: PARTNER_EXTRA_ERRORS,
    operations: PARTNER_OPERATIONS,
    access: (route, key): AccessDescription => {
      const extras = PARTNER_ERROR_BODIES[key] ? { errorBody: PARTNER_ERROR_BODIES[key] } : {};
      if (route.access?.auth !== 'partner') {
        // Basic, or the client's id and secret in the body (the empty requirement).
        const security: Record<string, string[]>[] = CLIENT_AUTH_OPERATIONS.has(key) ? [{ [CLIENT_SECRET_BASIC]: [] }, {}] : [];
        return { security, errors: [], ...extras };
      }
      const { security, scopes } = partnerSecurity(`${route.method} ${route.path}`, route.access.action, route.access.subject);
      return {
        security,
        // 429: every partner request is counted against its client's tier and its tenant.
        errors: [401, 403, 429, ...(route.method !== 'GET' ? [409] : [])],
        description: `Scope: ${scopes.map((s) => `\`${s}\``).join(' or ')}.`,
        headers: (highTrust) => signatureHeaders(route.method !== 'GET' && route.method !== 'HEAD', highTrust),
        highTrustNote: HIGH_TRUST_NOTE,
        ...extras,
      };
    },
  },
};

/** What a handler declares beyond its access: its DTOs, preconditions and idempotency. */
interface HandlerTraits {
  /** The request media types the route declares (apps/api/src/http/media-types.ts), which the listener enforces. */
  mediaTypes: readonly string[];
  body?: Type;
  query?: Type;
  upload?: Type;
  ifMatch: boolean;
  idempotent: boolean;
  /** Path parameters parsed by ParseUUIDPipe (the route answers 400 to anything else). */
  uuidParams: Set<string>;
  /** Marked @HighTrust: a client with a request-signing key must sign it. */
  highTrust: boolean;
}

function traitsOf(controller: Type, handlerName: string): HandlerTraits {
  const handler = (controller.prototype as Record<string, object>)[handlerName]!;
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handlerName) ?? {}) as Record<string, { index: number; data?: unknown }>;
  const paramTypes = (Reflect.getMetadata('design:paramtypes', controller.prototype, handlerName) ?? []) as Type[];
  const traits: HandlerTraits = {
    mediaTypes: declaredMediaTypes(controller, handlerName),
    ifMatch: false,
    idempotent: ((Reflect.getMetadata(INTERCEPTORS_METADATA, handler) ?? []) as unknown[]).includes(IdempotencyInterceptor),
    uuidParams: new Set(),
    highTrust: Reflect.getMetadata(ROUTE_HIGH_TRUST, handler) === true,
  };
  for (const [key, { index, data }] of Object.entries(args)) {
    const kind = Number(key.split(':')[0]);
    if (kind === RouteParamtypes.BODY && data === undefined) traits.body = paramTypes[index];
    if (kind === RouteParamtypes.QUERY && data === undefined) traits.query = paramTypes[index];
    if (kind === RouteParamtypes.HEADERS && typeof data === 'string' && data.toLowerCase() === 'if-match') traits.ifMatch = true;
  }
  traits.uuidParams = uuidParamsOf(controller, handlerName);
  const upload = Reflect.getMetadata(UPLOAD_FIELDS, handler) as Type | undefined;
  if (upload) traits.upload = upload;
  return traits;
}

/** Component schemas of every DTO, from the class-validator rules the ValidationPipe enforces. */
function dtoSchemas(): Record<string, Schema> {
  const schemas = validationMetadatasToSchemas({
    refPointerPrefix: '#/components/schemas/',
    classTransformerMetadataStorage: defaultMetadataStorage,
    // @IsOptional lets null through as well as a missing field (the controllers map null to "clear").
    additionalConverters: { [ValidationTypes.CONDITIONAL_VALIDATION]: { nullable: true } },
  }) as Record<string, Schema>;
  // The ValidationPipe runs with forbidNonWhitelisted: a field no rule names is an error. Except
  // where unknown parameters are ignored (the token request, RFC 6749 3.2: TokenParametersPipe).
  const ignoring = new Set([...IGNORES_UNKNOWN_PARAMETERS].map((dto) => dto.name));
  for (const [name, schema] of Object.entries(schemas)) {
    schema['additionalProperties'] = ignoring.has(name);
    if (ignoring.has(name)) schema['description'] = 'Parameters other than these are ignored (RFC 6749 3.2): never read, stored or echoed. Each parameter at most once.';
  }
  // Every DTO is a request schema: state the bounds its rules enforce (openapi.bounds.ts).
  normalizeDtoSchema(schemas);
  boundRequestSchema(schemas);
  return schemas;
}

/** Names of the schemas `schema` refers to, followed through `all`. */
function referenced(schema: unknown, all: Record<string, Schema>, seen = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) schema.forEach((item) => referenced(item, all, seen));
  else if (schema && typeof schema === 'object') {
    for (const [key, value] of Object.entries(schema)) {
      if (key === '$ref' && typeof value === 'string') {
        const name = value.replace('#/components/schemas/', '');
        if (!seen.has(name) && all[name]) {
          seen.add(name);
          referenced(all[name], all, seen);
        }
      } else referenced(value, all, seen);
    }
  }
  return seen;
}

function errorStatuses(route: RouteEntry, traits: HandlerTraits, extra: number[]): number[] {
  // 429: AccessGuard rate-limits every route of both surfaces (apps/api/src/http/gate/rate-limit.stage.ts).
  const statuses = new Set<number>([400, 429, 500, ...extra]);
  if (route.path.includes('/:')) statuses.add(404);
  if (traits.ifMatch) statuses.add(412);
  if (traits.upload) statuses.add(413).add(415);
  if (traits.idempotent) statuses.add(409).add(422);
  return [...statuses].sort((a, b) => a - b);
}

/** If-Match as parseIfMatch reads it: `*` or one strong ETag `"<version>"` (at most 9 digits), spaces around allowed. */
const IF_MATCH_PATTERN = '^\\s*(\\*|"\\d{1,9}")\\s*$';
const IF_MATCH_MAX = 64;
const IF_MATCH_DESCRIPTION =
  'Optional. The ETag (`"<version>"`) of the version this change is based on: another current version is 412. ' +
  'Without it, or with `*`, the change applies to whatever version is current.';
const IDEMPOTENCY_KEY_DESCRIPTION =
  'Optional. With a key, the first request runs and its response is stored; a repeat with the same key and body (same path parameters) ' +
  'gets that stored response again with `Idempotent-Replayed: true`; the same key with another body is 422; a repeat while the first ' +
  'is still running is 409. Keys belong to the tenant, the caller and the route; a request that fails releases its key. ' +
  'Without the header the request runs every time it is sent.';

const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * The OpenAPI 3 document of one surface: /v1 (with /.well-known) or /partner. @nestjs/swagger
 * reads the paths, path parameters and body DTO names from the router metadata of the surface's
 * module; what it cannot see is filled in from the same declarations the app enforces: DTO schemas
 * from class-validator rules, security from each route's access declaration (for partners, the
 * scopes whose grants match the route's action and subject), error responses from its guards and
 * interceptors. Paths of another surface are dropped, so neither document lists the other's routes.
 */
export function buildOpenApiDocument(app: INestApplication, surface: ApiSurface = 'public'): OpenAPIObject {
  const spec = SURFACES[surface];
  const document = SwaggerModule.createDocument(app, spec.config(), { include: [spec.module] });
  for (const path of Object.keys(document.paths)) if (!spec.includes(path)) delete document.paths[path];
  const dtos = dtoSchemas();
  const schemas: Record<string, Schema> = { ...(document.components?.schemas as Record<string, Schema> | undefined), ...spec.responseSchemas };
  const classes = controllerClasses(app);
  const routesByOperation = new Map(
    listRoutes(app)
      .filter((r) => document.paths[openApiPath(r.path)])
      .map((r) => [`${r.method} ${openApiPath(r.path)}`, r]),
  );

  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, value] of Object.entries(item as Record<string, Operation>)) {
      const route = routesByOperation.get(`${method.toUpperCase()} ${path}`);
      if (!route) throw new Error(`OpenAPI: no route for ${method.toUpperCase()} ${path}`);
      const key = `${route.controller}.${route.handler}`;
      const traits = traitsOf(classes.get(route.controller)!, route.handler);
      describeOperation(value, route, traits, key, dtos, spec, app.get(AppConfig).DOCUMENTS_MAX_BYTES);
      if (operationIds.has(value.operationId)) throw new Error(`OpenAPI: operationId ${value.operationId} is used twice in the ${surface} document`);
      operationIds.add(value.operationId);
    }
  }

  const wanted = referenced(document.paths, dtos);
  for (const name of wanted) schemas[name] = dtos[name]!;
  document.components = { ...document.components, schemas, headers: RATE_LIMIT_HEADERS };
  document.servers = [server(false)];
  return document;
}

function describeOperation(operation: Operation, route: RouteEntry, traits: HandlerTraits, key: string, dtos: Record<string, Schema>, spec: SurfaceDescription, maxUploadBytes: number): void {
  const access = spec.access(route, key);
  const name = operationName(spec.operations, key);
  operation.operationId = name.id;
  operation.summary = name.summary;
  const success = spec.successBodies[key];
  if (!success) throw new Error(`OpenAPI: no success response declared for ${key}`);
  const successStatus = Object.keys(operation.responses).find((s) => s.startsWith('2')) ?? (route.method === 'POST' ? '201' : '200');
  operation.responses = {
    [successStatus]: {
      description: 'json' in success ? success.json : 'binary' in success ? 'The stored bytes' : 'No content',
      headers: { ...rateLimitHeaders('counted'), ...(traits.idempotent ? { 'Idempotent-Replayed': { $ref: '#/components/headers/Idempotent-Replayed' } } : {}) },
      ...('json' in success ? { content: { 'application/json': { schema: ref(success.json) } } } : {}),
      ...('binary' in success ? { content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } } : {}),
    },
  };
  for (const status of errorStatuses(route, traits, [...access.errors, ...(spec.extraErrors[key] ?? [])])) {
    const error = access.errorBody ?? { media: PROBLEM_MEDIA, schema: 'Problem' };
    const headers = status === 429 ? rateLimitHeaders('refused') : status < 500 ? rateLimitHeaders('maybe') : undefined;
    operation.responses[String(status)] = { description: statusTitle(status), ...(headers ? { headers } : {}), content: { [error.media]: { schema: ref(error.schema) } } };
  }
  if (access.description) operation.description = access.description;
  if (traits.highTrust && access.highTrustNote) {
    operation.description = [operation.description, access.highTrustNote].filter(Boolean).join(' ');
    (operation as Operation & { 'x-benteng-high-trust'?: boolean })['x-benteng-high-trust'] = true;
  }

  const parameters = (operation.parameters ?? []).map((p) => (p.in === 'path' && (p.name === 'id' || traits.uuidParams.has(p.name)) ? { ...p, schema: { type: 'string', format: 'uuid' } } : p));
  if (traits.query) {
    const schema = dtos[traits.query.name] as { properties?: Record<string, Schema>; required?: string[] } | undefined;
    for (const [name, property] of Object.entries(schema?.properties ?? {})) {
      parameters.push({ name, in: 'query', required: schema?.required?.includes(name) ?? false, schema: property });
    }
  }
  // Optional, as parseIfMatch treats it (apps/api/src/http/resource-headers.ts).
  if (traits.ifMatch) parameters.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string', maxLength: IF_MATCH_MAX, pattern: IF_MATCH_PATTERN }, description: IF_MATCH_DESCRIPTION });
  // Optional, as IdempotencyInterceptor treats it (apps/api/src/http/idempotency.ts): without it the create simply runs.
  if (traits.idempotent) parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' }, description: IDEMPOTENCY_KEY_DESCRIPTION });
  parameters.push(...(access.headers?.(traits.highTrust) ?? []));
  boundRequestSchema(parameters);
  operation.parameters = parameters;

  if (traits.upload) {
    const fields = dtos[traits.upload.name] as { properties?: Record<string, Schema> } | undefined;
    operation.requestBody = {
      required: true,
      content: {
        'multipart/form-data': {
          // maxLength of a binary part is its size in bytes: DOCUMENTS_MAX_BYTES (multipartLimits).
          schema: { type: 'object', required: [FILE_FIELD], properties: { [FILE_FIELD]: { type: 'string', format: 'binary', maxLength: maxUploadBytes }, ...fields?.properties }, additionalProperties: false },
        },
      },
    };
  }
  if (!traits.upload && operation.requestBody) {
    // The body DTO's schema under every media type the route declares, and no other.
    const json = operation.requestBody.content['application/json'];
    if (!json) throw new Error(`OpenAPI: ${key} declares a body but no JSON schema for it`);
    operation.requestBody.content = Object.fromEntries(traits.mediaTypes.map((type) => [type, json]));
  }
  operation.security = access.security;
}
