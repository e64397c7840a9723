import { Injectable, type INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { buildOpenApiDocument, type ApiSurface } from './openapi.document.js';

/**
 * Holds the application the documents describe (bound in configureApiApp, since the scan needs
 * the whole app) and builds each surface's document once, on its first request.
 */
@Injectable()
export class OpenApiDocument {
  private app: INestApplication | undefined;
  private readonly documents = new Map<ApiSurface, OpenAPIObject>();

  bind(app: INestApplication): void {
    this.app = app;
  }

  get(surface: ApiSurface = 'public'): OpenAPIObject {
    if (!this.app) throw new Error('OpenApiDocument is not bound to the application');
    let document = this.documents.get(surface);
    if (!document) this.documents.set(surface, (document = buildOpenApiDocument(this.app, surface)));
    return document;
  }
}
