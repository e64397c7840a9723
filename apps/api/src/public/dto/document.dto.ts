import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsUUID, Matches, Max, Min } from 'class-validator';

/** The text fields of an upload form, beside the file. At most one link. */
export class UploadDocumentFields {
  @IsOptional()
  @IsUUID('all')
  invoiceId?: string;

  @IsOptional()
  @IsUUID('all')
  ticketId?: string;
}

export class ListDocumentsQuery {
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

  @IsOptional()
  @IsUUID('all')
  invoiceId?: string;

  @IsOptional()
  @IsUUID('all')
  ticketId?: string;
}
