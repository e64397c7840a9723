import { Controller, Get, Query } from '@nestjs/common';
import { Clock } from '@benteng/common';
import { SecurityBlocksService } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { paginate, type Page } from '../http/pagination.js';
import { CurrentScope } from '../http/request-auth.js';
import { ListSecurityBlocksQuery } from './dto/security-block.dto.js';
import { securityBlockResponse, type SecurityBlockResponse } from './security-block.response.js';

/** The abuse detector's blocks on principals of the caller's tenant (owners and admins), newest first. */
@Controller('v1/security/blocks')
export class SecurityBlocksController {
  constructor(
    private readonly blocks: SecurityBlocksService,
    private readonly clock: Clock,
  ) {}

  @Get()
  @Authorize('read', 'SecurityBlock')
  list(@CurrentScope() scope: Scope, @Query() query: ListSecurityBlocksQuery): Promise<Page<SecurityBlockResponse>> {
    // Whether a block is still active, as of the moment the page was read (the clock is read once, after the query).
    let now: Date | undefined;
    return paginate(query, 'blockedAt', (page) => this.blocks.list(scope, { ...page, ...(query.active ? { active: true } : {}) }), (block) => securityBlockResponse(block, (now ??= this.clock.now())));
  }
}
