import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Query } from '@nestjs/common';
import type { RequestMeta } from '@benteng/auth';
import { MembersService, type MemberView } from '@benteng/members';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { paginate, type Page } from '../http/pagination.js';
import { CurrentScope, Meta } from '../http/request-auth.js';
import { PageQuery } from '../http/dto/page.dto.js';
import { ChangeRoleDto } from './dto/auth.dto.js';

/** Members per page when the client does not say (at most 100, PageQuery). */
const MEMBERS_PAGE = 50;

/** Members join through invitations (invitations.controller.ts): there is no route that adds one. */
@Controller('v1/members')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Get()
  @Authorize('read', 'Membership')
  list(@CurrentScope() scope: Scope, @Query() query: PageQuery): Promise<Page<MemberView>> {
    // Paged like every other list: a tenant's membership grows without bound (API4, found by
    // test/security/resource-limits.spec.ts, which checks every list's page cap).
    return paginate(query, 'createdAt', (page) => this.members.list(scope, page), (member) => member, MEMBERS_PAGE);
  }

  @Patch(':id')
  @Authorize('update', 'Membership')
  changeRole(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: ChangeRoleDto, @Meta() meta: RequestMeta): Promise<MemberView> {
    return this.members.changeRole(scope, id, body.role, meta);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('delete', 'Membership')
  async remove(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta): Promise<void> {
    await this.members.remove(scope, id, meta);
  }
}
