import { Injectable, type INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { buildOpenApiDocument } from './openapi.document.js';

/**
 * Holds the application the document describes (bound in configureApiApp, since the scan needs
 * the whole app) and builds the document once, on first request.
 */
@Injectable()
export class OpenApiDocument {
  private app: INestApplication | undefined;
  private document: OpenAPIObject | undefined;

  bind(app: INestApplication): void {
    this.app = app;
  }

  get(): OpenAPIObject {
    if (!this.app) throw new Error('OpenApiDocument is not bound to the application');
    return (this.document ??= buildOpenApiDocument(this.app));
  }
}
