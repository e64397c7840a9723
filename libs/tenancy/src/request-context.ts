import { Injectable } from '@nestjs/common';
import { ClsService } from 'nestjs-cls';
import { PinoLogger } from 'nestjs-pino';
import { principalId } from '@benteng/authz';
import type { Scope } from './scope.js';

interface ContextStore {
  [key: symbol]: unknown;
  requestId?: string;
  scope?: Scope;
}

/**
 * Ambient facts about the current request, for logging and auditing only: the request id and, once
 * authentication has run, the Scope. Data access never reads the tenant from here; services and
 * repositories take the Scope as their first parameter (docs/style.md, "Scope in the signature").
 */
@Injectable()
export class RequestContext {
  constructor(
    private readonly cls: ClsService<ContextStore>,
    private readonly logger: PinoLogger,
  ) {}

  get requestId(): string | undefined {
    return this.cls.isActive() ? this.cls.get('requestId') : undefined;
  }

  get scope(): Scope | undefined {
    return this.cls.isActive() ? this.cls.get('scope') : undefined;
  }

  /** Called by authentication: every later log line of the request names tenant and principal. */
  enterScope(scope: Scope): void {
    this.cls.set('scope', scope);
    this.logger.assign({ tenantId: scope.tenantId, principalId: principalId(scope.principal) });
  }
}
