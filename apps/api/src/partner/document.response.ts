import type { Document } from '@benteng/database';
import { documentLink } from '../public/document.response.js';

/**
 * The partner shape of a document: no tenant id, no uploader (a user), no storage key. Which
 * documents a client sees at all is decided by the partner rules (documents:read).
 */
export interface PartnerDocumentResponse {
  id: string;
  fileName: string;
  contentType: string;
  size: number;
  sha256: string;
  link: { invoiceId: string } | { ticketId: string } | null;
  createdAt: string;
}

export function partnerDocumentResponse(document: Document): PartnerDocumentResponse {
  return {
    id: document.id,
    fileName: document.fileName,
    contentType: document.contentType,
    size: document.size,
    sha256: document.sha256,
    link: documentLink(document),
    createdAt: document.createdAt.toISOString(),
  };
}
