import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiExcludeController, type OpenAPIObject } from '@nestjs/swagger';
import { Anonymous } from '../http/access.decorator.js';
import { OpenApiDocument } from './openapi.document.provider.js';

/**
 * The docs pages are the only HTML documents the API serves. Their policy still allows nothing
 * but their own origin's scripts, styles and images, and the document fetch; the global policy
 * (default-src 'none') stays on every other response.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const swaggerUiDir = join(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'), '..');

interface Asset {
  type: string;
  body: () => string;
}

/**
 * One surface's docs: the page, and the only files it loads (no inline script, so script-src
 * needs no 'unsafe-inline'). `base` is where the surface serves openapi.json and docs/.
 */
class SwaggerUiPage {
  readonly html: string;
  private readonly files: Record<string, Asset>;
  private readonly cache = new Map<string, string>();

  constructor(base: string, title: string) {
    this.files = {
      'swagger-ui.css': { type: 'text/css; charset=utf-8', body: () => readFileSync(join(swaggerUiDir, 'swagger-ui.css'), 'utf8') },
      'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8', body: () => readFileSync(join(swaggerUiDir, 'swagger-ui-bundle.js'), 'utf8') },
      'init.js': {
        type: 'text/javascript; charset=utf-8',
        body: () => `window.ui = SwaggerUIBundle({ url: '${base}/openapi.json', dom_id: '#swagger-ui', deepLinking: false, validatorUrl: null });\n`,
      },
    };
    this.html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="stylesheet" href="${base}/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${base}/docs/swagger-ui-bundle.js"></script>
<script src="${base}/docs/init.js"></script>
</body>
</html>
`;
  }

  /** A file from the fixed list, or 404 for any other name. */
  asset(name: string, reply: FastifyReply): string {
    const asset = Object.hasOwn(this.files, name) ? this.files[name] : undefined;
    if (!asset) throw new NotFoundException();
    let body = this.cache.get(name);
    if (body === undefined) this.cache.set(name, (body = asset.body()));
    reply.header('content-type', asset.type);
    return body;
  }
}

@ApiExcludeController()
@Controller('v1')
export class OpenApiController {
  private readonly page = new SwaggerUiPage('/v1', 'Benteng public API');

  constructor(private readonly document: OpenApiDocument) {}

  @Get('openapi.json')
  @Header('cache-control', 'no-cache')
  @Anonymous('the OpenAPI description of the public surface: route shapes only, no data')
  openapi(): OpenAPIObject {
    return this.document.get('public');
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', DOCS_CSP)
  @Anonymous('the rendered OpenAPI page: static HTML over /v1/openapi.json')
  docs(): string {
    return this.page.html;
  }

  @Get('docs/:asset')
  @Header('cache-control', 'public, max-age=3600')
  @Anonymous('the docs page scripts and styles (swagger-ui-dist), from a fixed list')
  asset(@Param('asset') name: string, @Res({ passthrough: true }) reply: FastifyReply): string {
    return this.page.asset(name, reply);
  }
}

/** The same for the partner surface: its own document, listing only /partner routes. */
@ApiExcludeController()
@Controller('partner/v1')
export class PartnerOpenApiController {
  private readonly page = new SwaggerUiPage('/partner/v1', 'Benteng partner API');

  constructor(private readonly document: OpenApiDocument) {}

  @Get('openapi.json')
  @Header('cache-control', 'no-cache')
  @Anonymous('the OpenAPI description of the partner surface: route shapes only, no data')
  openapi(): OpenAPIObject {
    return this.document.get('partner');
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', DOCS_CSP)
  @Anonymous('the rendered partner OpenAPI page: static HTML over /partner/v1/openapi.json')
  docs(): string {
    return this.page.html;
  }

  @Get('docs/:asset')
  @Header('cache-control', 'public, max-age=3600')
  @Anonymous('the partner docs page scripts and styles (swagger-ui-dist), from a fixed list')
  asset(@Param('asset') name: string, @Res({ passthrough: true }) reply: FastifyReply): string {
    return this.page.asset(name, reply);
  }
}
