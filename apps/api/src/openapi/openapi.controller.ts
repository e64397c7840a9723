import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiExcludeController, type OpenAPIObject } from '@nestjs/swagger';
import { Public } from '../http/access.decorator.js';
import { OpenApiDocument } from './openapi.document.provider.js';

/**
 * The docs page is the one HTML document the API serves. Its policy still allows nothing but its
 * own origin's scripts, styles and images, and the document fetch; the global policy (default-src
 * 'none') stays on every other response.
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

/** The page loads only these files; no inline script, so script-src needs no 'unsafe-inline'. */
const ASSETS: Record<string, { type: string; body: () => string }> = {
  'swagger-ui.css': { type: 'text/css; charset=utf-8', body: () => readFileSync(join(swaggerUiDir, 'swagger-ui.css'), 'utf8') },
  'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8', body: () => readFileSync(join(swaggerUiDir, 'swagger-ui-bundle.js'), 'utf8') },
  'init.js': {
    type: 'text/javascript; charset=utf-8',
    body: () => "window.ui = SwaggerUIBundle({ url: '/v1/openapi.json', dom_id: '#swagger-ui', deepLinking: false, validatorUrl: null });\n",
  },
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Benteng public API</title>
<link rel="stylesheet" href="/v1/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/v1/docs/swagger-ui-bundle.js"></script>
<script src="/v1/docs/init.js"></script>
</body>
</html>
`;

@ApiExcludeController()
@Controller('v1')
export class OpenApiController {
  private readonly assets = new Map<string, string>();

  constructor(private readonly document: OpenApiDocument) {}

  @Get('openapi.json')
  @Header('cache-control', 'no-cache')
  @Public('the OpenAPI description of the public surface: route shapes only, no data')
  openapi(): OpenAPIObject {
    return this.document.get();
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', DOCS_CSP)
  @Public('the rendered OpenAPI page: static HTML over /v1/openapi.json')
  docs(): string {
    return PAGE;
  }

  @Get('docs/:asset')
  @Header('cache-control', 'public, max-age=3600')
  @Public('the docs page scripts and styles (swagger-ui-dist), from a fixed list')
  asset(@Param('asset') name: string, @Res({ passthrough: true }) reply: FastifyReply): string {
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) throw new NotFoundException();
    let body = this.assets.get(name);
    if (body === undefined) this.assets.set(name, (body = asset.body()));
    reply.header('content-type', asset.type);
    return body;
  }
}
