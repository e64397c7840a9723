export const PRIVACY_REQUEST_KINDS = ['access', 'erasure'] as const;
export type PrivacyRequestKind = (typeof PRIVACY_REQUEST_KINDS)[number];
export type PrivacyRequestStatus = 'processing' | 'completed' | 'failed';

/** A request as the API receives it: `subject` is a member id of this tenant (/v1/members/{id}), or `me`. */
export interface NewPrivacyRequest {
  kind: PrivacyRequestKind;
  subject: string;
}

/** What an erasure did, table by table (counts only: the result itself holds no personal data). */
export interface ErasureResult {
  membership: number;
  sessions: number;
  documents: number;
  ticketsRedacted: number;
  ticketsUnassigned: number;
  commentsRedacted: number;
  invitations: number;
  exports: number;
  idempotencyKeys: number;
  securityBlocks: number;
  /** Access records of the subject whose address was cleared (the record stays, for breach scoping). */
  accessRecords: number;
  auditEventsErased: number;
  /** Audit rows written before erasable detail existed (hash version 1): kept, see docs/privacy.md. */
  auditEventsLegacy: number;
  /** Whether the account itself (email, name, password) was erased: see docs/privacy.md. */
  accountErased: boolean;
}

export interface PrivacyRequestView {
  id: string;
  kind: PrivacyRequestKind;
  subjectUserId: string;
  subjectMemberId: string;
  requestedById: string;
  status: PrivacyRequestStatus;
  exportId: string | null;
  result: Partial<ErasureResult> | Record<string, never>;
  errorCode: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

export interface PrivacyListQuery {
  after?: { value: Date; id: string };
  limit: number;
}

export interface PrivacyRequestMeta {
  ip?: string;
  requestId?: string;
}

/** The payload of the `privacy.access` tenant job. */
export interface PrivacyAccessJobData {
  requestId: string;
  exportId: string;
}

export const PRIVACY_ACCESS_JOB = 'privacy.access';
