import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe } from '@nestjs/common';
import { SessionsService, type VerifiedUserToken, type RequestMeta } from '@benteng/auth';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { CurrentScope, CurrentUser, Meta } from '../http/request-auth.js';

export interface SessionResponse {
  id: string;
  current: boolean;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  userAgent: string | null;
  ip: string | null;
}

@Controller('v1/sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get()
  @Authorize('read', 'Session')
  async list(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken): Promise<{ items: SessionResponse[] }> {
    const sessions = await this.sessions.list(scope);
    return { items: sessions.map((s) => ({ id: s.id, current: s.id === user.sessionId, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt, expiresAt: s.expiresAt, userAgent: s.userAgent, ip: s.ip })) };
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('delete', 'Session')
  async revoke(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta): Promise<void> {
    await this.sessions.revokeSession(scope, id, meta);
  }
}
