import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';
import { PageQuery } from '../../http/dto/page.dto.js';

export class ListSecurityBlocksQuery extends PageQuery {
  /** true: only blocks still in force (neither expired nor lifted). */
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  active?: boolean;
}
