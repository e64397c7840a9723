/**
 * The subset of an OpenAPI 3 document the tests read, as the three surfaces publish it
 * (/v1/openapi.json, /partner/v1/openapi.json, the internal one): one set of types for the
 * OpenAPI specs (test/e2e/openapi.spec.ts, partner-openapi.spec.ts) and the generated-input
 * suites (test/security/support/fuzz-schema.ts).
 */

/** The subset of OpenAPI 3 schema objects the documents use. */
export interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  nullable?: boolean;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  additionalProperties?: boolean | Schema;
  description?: string;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}

export interface Operation {
  operationId?: string;
  description?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  security?: Record<string, string[]>[];
}

export interface OpenApiDoc {
  openapi: string;
  info: { title: string; description?: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Record<string, unknown>> };
}

/** The document's path of a router path: /v1/invoices/:id → /v1/invoices/{id}. */
export const openApiPathOf = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The operation the document gives a route, if any. */
export const operationIn = (doc: OpenApiDoc, route: { method: string; path: string }): Operation | undefined => doc.paths[openApiPathOf(route.path)]?.[route.method.toLowerCase()];

/** A schema with its `$ref` (if any) resolved against the document's components. */
export const schemaIn = (doc: OpenApiDoc, schema: Schema): Schema => (schema.$ref ? doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]! : schema);
