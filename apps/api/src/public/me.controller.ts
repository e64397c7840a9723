import { Controller, Get } from '@nestjs/common';
import { ProfileService, type VerifiedUserToken } from '@benteng/auth';
import type { MembershipRole } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { CurrentScope, CurrentUser } from '../http/request-auth.js';

export interface MeResponse {
  user: { id: string; email: string; displayName: string };
  tenant: { id: string; slug: string; name: string };
  role: MembershipRole;
  sessionId: string;
  memberships: { tenant: { slug: string; name: string }; role: MembershipRole }[];
}

@Controller('v1/me')
export class MeController {
  constructor(private readonly profiles: ProfileService) {}

  @Get()
  @Authorize('read', 'Tenant')
  async me(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken): Promise<MeResponse> {
    const profile = await this.profiles.profile(scope);
    return {
      user: profile.user,
      tenant: profile.tenant,
      role: user.role,
      sessionId: user.sessionId,
      memberships: profile.memberships.filter((m) => m.tenant_status === 'active').map((m) => ({ tenant: { slug: m.tenant_slug, name: m.tenant_name }, role: m.role })),
    };
  }
}
