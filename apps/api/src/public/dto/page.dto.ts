import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

/** `limit` and `cursor`, the same on every list route (class-validator reads inherited rules). */
export class PageQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  /** Opaque: the nextCursor of the previous page. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,256}$/)
  cursor?: string;
}
