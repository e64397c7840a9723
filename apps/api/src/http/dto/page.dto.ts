import { Transform, Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { CURSOR_TEXT, cursorText, PAGE_MAX } from '../pagination.js';

/** `limit` and `cursor`, the same on every list route (class-validator reads inherited rules). */
export class PageQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(PAGE_MAX)
  limit?: number;

  /**
   * Opaque: the nextCursor of the previous page. Any other text is 400 `pagination.invalid_cursor`,
   * the same answer as a well-formed cursor whose content this API did not make (decodeCursor), so
   * a client has one code to restart from the first page on.
   */
  @IsOptional()
  @Transform(({ value }) => cursorText(value))
  @Matches(CURSOR_TEXT)
  cursor?: string;
}
