import { IsOptional, IsUUID } from 'class-validator';
import { Rules } from './field-rules.js';
import { PageQuery } from './page.dto.js';

/** What a document is attached to: an invoice or a ticket id, or nothing. */
export const DocumentLink = () => Rules(IsOptional(), IsUUID('all'));

/** GET /v1/documents and GET /partner/v1/documents: the same filters (query DTOs have no schema name). */
export class ListDocumentsQuery extends PageQuery {
  @DocumentLink()
  invoiceId?: string;

  @DocumentLink()
  ticketId?: string;
}
