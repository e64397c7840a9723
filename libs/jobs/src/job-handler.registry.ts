import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { JOB_NAME } from './job-signer.js';
import { PLATFORM_JOB, TENANT_JOB, type PlatformJobHandler, type PlatformJobMetadata, type TenantJobHandler, type TenantJobMetadata } from './job-handlers.js';

interface Registered<H, M> {
  handler: H;
  metadata: M;
}

/**
 * Every `@TenantJob` and `@PlatformJob` provider of the application, by job name. Found by
 * metadata wherever the provider is declared (a feature's worker module, or the list given to
 * JobsWorkerModule.register), so adding a handler is one provider, not a switch to edit. Two
 * handlers for one name, or a name that is not a valid job name, stop the worker at start.
 */
@Injectable()
export class JobHandlerRegistry implements OnModuleInit {
  private readonly tenantHandlers = new Map<string, Registered<TenantJobHandler, TenantJobMetadata>>();
  private readonly platformHandlers = new Map<string, Registered<PlatformJobHandler, PlatformJobMetadata>>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const type = wrapper.metatype && !wrapper.inject ? wrapper.metatype : (wrapper.instance as object | undefined)?.constructor;
      if (!type || typeof type !== 'function') continue;
      const tenant = this.reflector.get<TenantJobMetadata | undefined>(TENANT_JOB, type);
      const platform = this.reflector.get<PlatformJobMetadata | undefined>(PLATFORM_JOB, type);
      if (!tenant && !platform) continue;
      // A request-scoped handler has no instance to call: refuse it now rather than fail its jobs later.
      if (!wrapper.isDependencyTreeStatic()) throw new Error(`${type.name}: job handlers must be singletons (no request-scoped dependencies)`);
      if (tenant) this.add(this.tenantHandlers, tenant, wrapper.instance as TenantJobHandler, type.name);
      if (platform) this.add(this.platformHandlers, platform, wrapper.instance as PlatformJobHandler, type.name);
    }
  }

  private add<H extends { handle: unknown }, M extends { name: string }>(map: Map<string, Registered<H, M>>, metadata: M, handler: H, className: string): void {
    if (!JOB_NAME.test(metadata.name) || metadata.name.length > 100) throw new Error(`${className}: "${metadata.name}" is not a valid job name`);
    if (typeof handler?.handle !== 'function') throw new Error(`${className}: a job handler needs a handle() method`);
    // A provider exported and re-provided shows up once per module; the same instance is fine.
    const existing = map.get(metadata.name);
    if (existing && existing.handler !== handler) throw new Error(`Two handlers for job "${metadata.name}"`);
    map.set(metadata.name, { handler, metadata });
  }

  tenant(name: string): TenantJobHandler | undefined {
    return this.tenantHandlers.get(name)?.handler;
  }

  platform(name: string): PlatformJobHandler | undefined {
    return this.platformHandlers.get(name)?.handler;
  }

  /** Platform handlers that declared a schedule. */
  scheduled(): PlatformJobMetadata[] {
    return [...this.platformHandlers.values()].map((r) => r.metadata).filter((m) => m.everyMs !== undefined);
  }

  get names(): { tenant: string[]; platform: string[] } {
    return { tenant: [...this.tenantHandlers.keys()].sort(), platform: [...this.platformHandlers.keys()].sort() };
  }
}
