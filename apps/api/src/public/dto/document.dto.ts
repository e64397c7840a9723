import { IsOptional, IsUUID } from 'class-validator';
import { PageQuery } from './page.dto.js';

/** The text fields of an upload form, beside the file. At most one link. */
export class UploadDocumentFields {
  @IsOptional()
  @IsUUID('all')
  invoiceId?: string;

  @IsOptional()
  @IsUUID('all')
  ticketId?: string;
}

export class ListDocumentsQuery extends PageQuery {
  @IsOptional()
  @IsUUID('all')
  invoiceId?: string;

  @IsOptional()
  @IsUUID('all')
  ticketId?: string;
}
