import type { Document, DomainEventInput } from '@benteng/database';

export type DocumentEventType = 'document.uploaded';

/**
 * What webhook subscribers learn about a document: its id, type, size, digest and link. Not its
 * name (user-typed text, which can carry personal data) and never where its bytes are stored;
 * subscribers that need more fetch it through the API with their own permissions.
 */
export function documentEvent(type: DocumentEventType, document: Document): DomainEventInput {
  return {
    type,
    subjectType: 'document',
    subjectId: document.id,
    payload: {
      id: document.id,
      contentType: document.contentType,
      size: document.size,
      sha256: document.sha256,
      invoiceId: document.invoiceId,
      ticketId: document.ticketId,
      createdAt: document.createdAt.toISOString(),
    },
  };
}
