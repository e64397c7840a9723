import { type INestApplication, type Type } from '@nestjs/common';
import { INTERCEPTORS_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { DiscoveryService } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { ValidationTypes } from 'class-validator';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { listRoutes, type RouteEntry } from '../http/route-catalog.js';
import { IdempotencyInterceptor } from '../http/idempotency.js';
import { FILE_FIELD, UPLOAD_FIELDS } from '../http/multipart-upload.js';
import { PROBLEM_CONTENT_TYPE, statusTitle } from '../http/problem.js';
import { PublicModule } from '../public/public.module.js';
import { EXTRA_ERRORS, ref, RESPONSE_SCHEMAS, SUCCESS_BODIES } from './openapi.schemas.js';

type Schema = Record<string, unknown>;
type Parameter = { name: string; in: string; required?: boolean; schema?: Schema; description?: string };
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
  security?: Record<string, string[]>[];
}

export const BEARER = 'bearer';
const PROBLEM_MEDIA = PROBLEM_CONTENT_TYPE.split(';')[0]!;

/** What a handler declares beyond its access: its DTOs, preconditions and idempotency. */
interface HandlerTraits {
  body?: Type;
  query?: Type;
  upload?: Type;
  ifMatch: boolean;
  idempotent: boolean;
}

function traitsOf(controller: Type, handlerName: string): HandlerTraits {
  const handler = (controller.prototype as Record<string, object>)[handlerName]!;
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handlerName) ?? {}) as Record<string, { index: number; data?: unknown }>;
  const paramTypes = (Reflect.getMetadata('design:paramtypes', controller.prototype, handlerName) ?? []) as Type[];
  const traits: HandlerTraits = {
    ifMatch: false,
    idempotent: ((Reflect.getMetadata(INTERCEPTORS_METADATA, handler) ?? []) as unknown[]).includes(IdempotencyInterceptor),
  };
  for (const [key, { index, data }] of Object.entries(args)) {
    const kind = Number(key.split(':')[0]);
    if (kind === RouteParamtypes.BODY && data === undefined) traits.body = paramTypes[index];
    if (kind === RouteParamtypes.QUERY && data === undefined) traits.query = paramTypes[index];
    if (kind === RouteParamtypes.HEADERS && typeof data === 'string' && data.toLowerCase() === 'if-match') traits.ifMatch = true;
  }
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
  // The ValidationPipe runs with forbidNonWhitelisted: a field no rule names is an error.
  for (const schema of Object.values(schemas)) schema['additionalProperties'] = false;
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

function errorStatuses(route: RouteEntry, traits: HandlerTraits, key: string): number[] {
  const statuses = new Set<number>([400, 500, ...(EXTRA_ERRORS[key] ?? [])]);
  if (route.access?.auth === 'public-jwt') {
    statuses.add(401).add(403);
    if (route.method !== 'GET') statuses.add(409);
  }
  if (route.path.includes('/:')) statuses.add(404);
  if (traits.ifMatch) statuses.add(412);
  if (traits.upload) statuses.add(413).add(415);
  if (traits.idempotent) statuses.add(409).add(422);
  return [...statuses].sort((a, b) => a - b);
}

const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * The OpenAPI 3 document of the public surface (/v1 and /.well-known). @nestjs/swagger reads the
 * paths, path parameters and body DTO names from the router metadata; what it cannot see is
 * filled in from the same declarations the app enforces: DTO schemas from class-validator rules,
 * security from each route's access declaration, error responses from its guards and interceptors.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Benteng public API')
    .setDescription('Tenant users with short-lived access tokens. Every error is RFC 9457 application/problem+json.')
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from POST /v1/auth/login' }, BEARER)
    .build();
  const document = SwaggerModule.createDocument(app, config, { include: [PublicModule] });
  const dtos = dtoSchemas();
  const schemas: Record<string, Schema> = { ...(document.components?.schemas as Record<string, Schema> | undefined), ...RESPONSE_SCHEMAS };
  const classes = new Map(app.get(DiscoveryService).getControllers().map((w) => [w.metatype?.name, w.metatype as Type]));
  const routesByOperation = new Map(
    listRoutes(app)
      .filter((r) => document.paths[openApiPath(r.path)])
      .map((r) => [`${r.method} ${openApiPath(r.path)}`, r]),
  );

  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, value] of Object.entries(item as Record<string, Operation>)) {
      const route = routesByOperation.get(`${method.toUpperCase()} ${path}`);
      if (!route) throw new Error(`OpenAPI: no route for ${method.toUpperCase()} ${path}`);
      const key = `${route.controller}.${route.handler}`;
      const traits = traitsOf(classes.get(route.controller)!, route.handler);
      describeOperation(value, route, traits, key, dtos);
    }
  }

  const wanted = referenced(document.paths, dtos);
  for (const name of wanted) schemas[name] = dtos[name]!;
  document.components = { ...document.components, schemas };
  return document;
}

function describeOperation(operation: Operation, route: RouteEntry, traits: HandlerTraits, key: string, dtos: Record<string, Schema>): void {
  const success = SUCCESS_BODIES[key];
  if (!success) throw new Error(`OpenAPI: no success response declared for ${key}`);
  const successStatus = Object.keys(operation.responses).find((s) => s.startsWith('2')) ?? (route.method === 'POST' ? '201' : '200');
  operation.responses = {
    [successStatus]: {
      description: 'json' in success ? success.json : 'binary' in success ? 'The stored bytes' : 'No content',
      ...('json' in success ? { content: { 'application/json': { schema: ref(success.json) } } } : {}),
      ...('binary' in success ? { content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } } : {}),
    },
  };
  for (const status of errorStatuses(route, traits, key)) {
    operation.responses[String(status)] = { description: statusTitle(status), content: { [PROBLEM_MEDIA]: { schema: ref('Problem') } } };
  }

  const parameters = (operation.parameters ?? []).map((p) => (p.in === 'path' && p.name === 'id' ? { ...p, schema: { type: 'string', format: 'uuid' } } : p));
  if (traits.query) {
    const schema = dtos[traits.query.name] as { properties?: Record<string, Schema>; required?: string[] } | undefined;
    for (const [name, property] of Object.entries(schema?.properties ?? {})) {
      parameters.push({ name, in: 'query', required: schema?.required?.includes(name) ?? false, schema: property });
    }
  }
  if (traits.ifMatch) parameters.push({ name: 'If-Match', in: 'header', required: true, schema: { type: 'string' }, description: 'The ETag of the version this change is based on.' });
  if (traits.idempotent) parameters.push({ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' }, description: 'Repeats of the same key and body replay the first response.' });
  operation.parameters = parameters;

  if (traits.upload) {
    const fields = dtos[traits.upload.name] as { properties?: Record<string, Schema> } | undefined;
    operation.requestBody = {
      required: true,
      content: {
        'multipart/form-data': {
          schema: { type: 'object', required: [FILE_FIELD], properties: { [FILE_FIELD]: { type: 'string', format: 'binary' }, ...fields?.properties }, additionalProperties: false },
        },
      },
    };
  }
  operation.security = route.access?.auth === 'public-jwt' ? [{ [BEARER]: [] }] : [];
}
