import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post } from '@nestjs/common';
import type { RequestMeta } from '@benteng/auth';
import { MembersService, type MemberView } from '@benteng/members';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { CurrentScope, Meta } from '../http/request-auth.js';
import { AddMemberDto, ChangeRoleDto } from './dto/auth.dto.js';

@Controller('v1/members')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Get()
  @Authorize('read', 'Membership')
  async list(@CurrentScope() scope: Scope): Promise<{ items: MemberView[] }> {
    return { items: await this.members.list(scope) };
  }

  @Post()
  @Authorize('create', 'Membership')
  add(@CurrentScope() scope: Scope, @Body() body: AddMemberDto, @Meta() meta: RequestMeta): Promise<MemberView> {
    return this.members.add(scope, body, meta);
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
