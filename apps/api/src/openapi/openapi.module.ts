import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { OpenApiController, PartnerOpenApiController } from './openapi.controller.js';
import { OpenApiDocument } from './openapi.document.provider.js';

/** GET /v1/openapi.json and /partner/v1/openapi.json, and the pages that render them at /v1/docs and /partner/v1/docs. */
@Module({
  imports: [DiscoveryModule],
  controllers: [OpenApiController, PartnerOpenApiController],
  providers: [OpenApiDocument],
  exports: [OpenApiDocument],
})
export class OpenApiModule {}
