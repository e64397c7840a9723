import { DocumentLink } from '../../http/dto/document.dto.js';

/** The text fields of an upload form, beside the file. At most one link. */
export class UploadDocumentFields {
  @DocumentLink()
  invoiceId?: string;

  @DocumentLink()
  ticketId?: string;
}
