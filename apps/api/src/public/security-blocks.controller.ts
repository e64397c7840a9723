import { Controller, Get, Query } from '@nestjs/common';
import { Clock } from '@benteng/common';
import { SecurityBlocks } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { decodeCursor, nextCursor } from '../http/pagination.js';
import { CurrentScope } from '../http/request-auth.js';
import { ListSecurityBlocksQuery } from './dto/security-block.dto.js';
import { securityBlockResponse, type SecurityBlockResponse } from './security-block.response.js';

const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;

/** The abuse detector's blocks on principals of the caller's tenant (owners and admins), newest first. */
@Controller('v1/security/blocks')
export class SecurityBlocksController {
  constructor(
    private readonly blocks: SecurityBlocks,
    private readonly clock: Clock,
  ) {}

  @Get()
  @Authorize('read', 'SecurityBlock')
  async list(@CurrentScope() scope: Scope, @Query() query: ListSecurityBlocksQuery): Promise<{ items: SecurityBlockResponse[]; nextCursor: string | null }> {
    const limit = Math.min(query.limit ?? DEFAULT_PAGE, MAX_PAGE);
    const items = await this.blocks.list(scope, {
      limit,
      ...(query.active ? { active: true } : {}),
      ...(query.cursor ? { after: decodeCursor(query.cursor, 'blockedAt') } : {}),
    });
    const now = this.clock.now();
    return { items: items.map((block) => securityBlockResponse(block, now)), nextCursor: nextCursor(items, limit, 'blockedAt') };
  }
}
