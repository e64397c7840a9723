import type { Document, Keyset } from '@benteng/database';

/**
 * The types a document may have: the allowlist. Each is recognised from the bytes (magic numbers
 * for the binary formats, strict UTF-8 text for the others), never from the client's word.
 * The migration repeats this list in a CHECK constraint.
 */
export const DOCUMENT_TYPES = ['application/pdf', 'image/png', 'image/jpeg', 'text/plain', 'text/csv'] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

/** What a document may be attached to: one invoice or one ticket of the same tenant. */
export type DocumentLink = { invoiceId: string } | { ticketId: string };

export interface NewDocument {
  /** The name the client gave; sanitized before it is stored. */
  fileName: string;
  content: Buffer;
  /** At most one of the two: the invoice or the ticket (of the same tenant) to attach it to. */
  invoiceId?: string | undefined;
  ticketId?: string | undefined;
}

export interface DocumentListQuery {
  /** (createdAt, id) of the last document of the previous page: the list goes on strictly after it. */
  after?: Keyset;
  limit: number;
  invoiceId?: string;
  ticketId?: string;
}

export interface DocumentDownload {
  document: Document;
  content: Buffer;
}
