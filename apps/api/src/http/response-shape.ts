/**
 * What the response shapes of the public surface (apps/api/src/public/*.response.ts) build with:
 * instants as ISO 8601 text, and the pieces of the OpenAPI schemas written beside each shape
 * (spread into the document by apps/api/src/openapi/openapi.schemas.ts). A leaf module, so the
 * shapes and the document builder can both import it without a cycle.
 */

export const isoOrNull = (value: Date | null): string | null => value?.toISOString() ?? null;

export type Schema = Record<string, unknown>;
export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
export const nullable = (schema: Schema): Schema => ({ ...schema, nullable: true });
/** Every property required, nothing else allowed: what a shape built field by field sends. */
export const object = (properties: Record<string, Schema>): Schema => ({ type: 'object', properties, required: Object.keys(properties), additionalProperties: false });
export const uuid: Schema = { type: 'string', format: 'uuid' };
export const dateTime: Schema = { type: 'string', format: 'date-time' };
