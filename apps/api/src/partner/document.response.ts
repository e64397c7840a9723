import type { Document } from '@benteng/database';
import { documentFile, type DocumentFile } from '../public/document.response.js';

/**
 * The partner shape of a document: no tenant id, no uploader (a user), no storage key. Which
 * documents a client sees at all is decided by the partner rules (documents:read).
 */
export interface PartnerDocumentResponse extends DocumentFile {
  createdAt: string;
}

export function partnerDocumentResponse(document: Document): PartnerDocumentResponse {
  return { ...documentFile(document), createdAt: document.createdAt.toISOString() };
}
