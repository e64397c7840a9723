import type { Document } from '@benteng/database';

/**
 * The public shape of a document. Built field by field: no tenant id, no uploader id, no storage
 * key. The same for every role; what a role may see is decided by which documents it can read.
 */
export interface DocumentResponse extends DocumentFile {
  uploadedByMe: boolean;
  createdAt: string;
}

/** What a document shows on every surface (public and partner), in this order. */
export interface DocumentFile {
  id: string;
  fileName: string;
  contentType: string;
  size: number;
  sha256: string;
  /** What the document is attached to: an invoice, a ticket, or nothing. */
  link: { invoiceId: string } | { ticketId: string } | null;
}

export function documentFile(document: Document): DocumentFile {
  return {
    id: document.id,
    fileName: document.fileName,
    contentType: document.contentType,
    size: document.size,
    sha256: document.sha256,
    link: document.invoiceId ? { invoiceId: document.invoiceId } : document.ticketId ? { ticketId: document.ticketId } : null,
  };
}

export function documentResponse(document: Document, viewer: { userId: string }): DocumentResponse {
  return { ...documentFile(document), uploadedByMe: document.uploadedById === viewer.userId, createdAt: document.createdAt.toISOString() };
}
