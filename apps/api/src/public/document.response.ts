import type { Document } from '@benteng/database';

/**
 * The public shape of a document. Built field by field: no tenant id, no uploader id, no storage
 * key. The same for every role; what a role may see is decided by which documents it can read.
 */
export interface DocumentResponse {
  id: string;
  fileName: string;
  contentType: string;
  size: number;
  sha256: string;
  link: { invoiceId: string } | { ticketId: string } | null;
  uploadedByMe: boolean;
  createdAt: string;
}

/** What a document is attached to, on every surface: an invoice, a ticket, or nothing. */
export function documentLink(document: Document): DocumentResponse['link'] {
  return document.invoiceId ? { invoiceId: document.invoiceId } : document.ticketId ? { ticketId: document.ticketId } : null;
}

export function documentResponse(document: Document, viewer: { userId: string }): DocumentResponse {
  return {
    id: document.id,
    fileName: document.fileName,
    contentType: document.contentType,
    size: document.size,
    sha256: document.sha256,
    link: documentLink(document),
    uploadedByMe: document.uploadedById === viewer.userId,
    createdAt: document.createdAt.toISOString(),
  };
}
