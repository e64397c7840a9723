/**
 * The personal-data inventory (UU PDP, Law 27 of 2022): every table of prisma/schema.prisma and
 * every column of it, each column either classified as personal data (category, purpose, what
 * erasure does to it) or named as holding none. One place next to the schema, read by:
 *
 * - `test/integration/personal-data.spec.ts`, which fails when a table or column of the migrated
 *   database is missing here (or listed here but gone), like the RLS catalog test;
 * - `apps/dev/personal-data-doc.mjs` (`npm run docs:personal-data`), which writes
 *   `docs/personal-data.md` from it (the same spec fails when that file is stale);
 * - `libs/privacy` (data subject requests), whose erasure clears exactly the columns marked here.
 *
 * `retention` names the rule that decides how long rows are kept; enforcing it is the retention
 * job's work, not this file's. Engineering support, not legal advice (docs/privacy.md).
 */

/** What kind of personal data a column holds. */
export type PersonalDataCategory =
  /** Names a person: a name, an email used as a login, a tax id. */
  | 'identity'
  /** Reaches a person: an email address or phone number used to contact them. */
  | 'contact'
  /** About a person's money: tax ids, what they were billed. */
  | 'financial'
  /** Text a person typed, which may contain anything about anyone. */
  | 'free_text'
  /** A secret or a hash of one that lets a person act (password hash, token hash). */
  | 'credential'
  /** An address or client string that identifies a device or network (IP, user agent). */
  | 'network'
  /** A key that points at a person's row (user id, principal id): personal while the row exists. */
  | 'pseudonymous_id'
  /** A file's contents or name, which may describe a person. */
  | 'file';

/**
 * What erasing a data subject does to the column in their tenant (docs/privacy.md, Data subject
 * requests):
 * - `clear`: the value is set to null (or an empty value) in the subject's rows;
 * - `pseudonymise`: replaced by a value that names no one (`erased:<id>`, `[erased]`);
 * - `delete_row`: the subject's rows are deleted;
 * - `keep`: kept, with the reason in `purpose` (a pseudonymous id whose person row is gone, a
 *   business record of the tenant about someone else).
 */
export type ErasureAction = 'clear' | 'pseudonymise' | 'delete_row' | 'keep';

export interface PersonalColumn {
  readonly category: PersonalDataCategory;
  readonly purpose: string;
  readonly erasure: ErasureAction;
}

export interface TableInventory {
  /** What a row is, in one line. */
  readonly about: string;
  /** Whose data it is: the tenant's users, the tenant's own customers, platform operators, nobody. */
  readonly subjects: string;
  /** The retention rule, by name (enforced by the retention job, documented in docs/privacy.md). */
  readonly retention: string;
  /** Personal columns; `{}` for a table with none. */
  readonly personal: Readonly<Record<string, PersonalColumn>>;
  /** Every other column, named so that a new column cannot slip in unclassified. */
  readonly notPersonal: readonly string[];
}

const userRef = (purpose: string): PersonalColumn => ({ category: 'pseudonymous_id', purpose, erasure: 'keep' });

export const PERSONAL_DATA: Readonly<Record<string, TableInventory>> = {
  tenants: {
    about: 'a customer organisation',
    subjects: 'none (an organisation, not a person)',
    retention: 'tenant lifetime',
    personal: {},
    notPersonal: ['id', 'slug', 'name', 'status', 'created_at', 'updated_at'],
  },
  users: {
    about: 'a person who can log in (shared by every tenant the person belongs to)',
    subjects: 'tenant users',
    retention: 'account lifetime',
    personal: {
      email: { category: 'contact', purpose: 'login name and account notices', erasure: 'pseudonymise' },
      display_name: { category: 'identity', purpose: 'shown to the members of the tenants the user belongs to', erasure: 'pseudonymise' },
      password_hash: { category: 'credential', purpose: 'password login (argon2id hash)', erasure: 'clear' },
    },
    notPersonal: ['id', 'status', 'created_at', 'updated_at'],
  },
  memberships: {
    about: "a user's membership of one tenant, with their role",
    subjects: 'tenant users',
    retention: 'membership lifetime',
    personal: {
      user_id: { category: 'pseudonymous_id', purpose: 'whose membership this is', erasure: 'delete_row' },
      display_name: { category: 'identity', purpose: 'the name this tenant knows the member by', erasure: 'delete_row' },
    },
    notPersonal: ['tenant_id', 'id', 'role', 'created_at'],
  },
  invoices: {
    about: "an invoice the tenant issues to one of its customers",
    subjects: "the tenant's customers (third parties); the creating user",
    retention: 'tenant lifetime (business and tax records)',
    personal: {
      customer_name: { category: 'identity', purpose: "names the tenant's customer on the invoice; a business record of the tenant, not of the user who typed it", erasure: 'keep' },
      customer_email: { category: 'contact', purpose: "where the tenant sends the invoice; the customer's data, kept with the invoice", erasure: 'keep' },
      customer_tax_id: { category: 'financial', purpose: "the customer's tax id (NPWP) printed on the invoice; hidden from viewers", erasure: 'keep' },
      created_by_id: userRef('who created the invoice; points at a pseudonymised account after erasure'),
    },
    notPersonal: ['tenant_id', 'id', 'number', 'status', 'currency', 'total_minor', 'due_date', 'issued_at', 'created_by_client_id', 'version', 'created_at', 'updated_at'],
  },
  invoice_lines: {
    about: 'a line of an invoice',
    subjects: "the tenant's customers (third parties)",
    retention: 'tenant lifetime (with its invoice)',
    personal: {
      description: { category: 'free_text', purpose: 'what was sold; may name a person', erasure: 'keep' },
    },
    notPersonal: ['tenant_id', 'id', 'invoice_id', 'position', 'quantity', 'unit_price_minor', 'amount_minor'],
  },
  sessions: {
    about: 'a login (a refresh-token family)',
    subjects: 'tenant users',
    retention: 'session: until expiry or revocation, then purged',
    personal: {
      user_id: { category: 'pseudonymous_id', purpose: 'whose session this is', erasure: 'delete_row' },
      user_agent: { category: 'network', purpose: 'lets the user recognise their own sessions', erasure: 'delete_row' },
      ip: { category: 'network', purpose: 'lets the user recognise their own sessions; incident response', erasure: 'delete_row' },
    },
    notPersonal: ['tenant_id', 'id', 'created_at', 'last_seen_at', 'expires_at', 'revoked_at', 'revoked_reason'],
  },
  session_revocations: {
    about: 'the id of an ended session, kept one access-token lifetime',
    subjects: 'none (a session id only)',
    retention: 'session revocation: one access-token lifetime',
    personal: {},
    notPersonal: ['tenant_id', 'id', 'revoked_at'],
  },
  refresh_tokens: {
    about: 'a refresh token of a session, as a keyed hash',
    subjects: 'tenant users',
    retention: 'session: until expiry or revocation, then purged',
    personal: {
      token_hash: { category: 'credential', purpose: 'recognises the refresh token and its reuse', erasure: 'delete_row' },
    },
    notPersonal: ['tenant_id', 'id', 'session_id', 'created_at', 'expires_at', 'rotated_at'],
  },
  audit_events: {
    about: 'a hash-chained security event of the tenant',
    subjects: 'tenant users, partner clients, anonymous callers',
    retention: 'audit: chain kept for the tenant lifetime; personal detail (ip, data) erasable',
    personal: {
      actor: userRef('who acted (`user:<id>`); kept in the chain, pseudonymous once the account is erased'),
      subject: userRef('what was acted on (`user:<id>`, `membership:<id>`, …); kept in the chain'),
      ip: { category: 'network', purpose: 'where the request came from; incident response', erasure: 'clear' },
      data: { category: 'free_text', purpose: 'event details (an attempted email, a user agent, a reason)', erasure: 'clear' },
      personal_salt: { category: 'credential', purpose: 'the random salt of the commitment to ip and data; erased with them, so the commitment can no longer be tested against a guess', erasure: 'clear' },
    },
    notPersonal: ['tenant_id', 'id', 'seq', 'occurred_at', 'type', 'outcome', 'request_id', 'prev_hash', 'hash', 'hash_version', 'personal_commitment', 'erased_at'],
  },
  idempotency_keys: {
    about: 'a stored response to a create with an Idempotency-Key',
    subjects: 'tenant users, partner clients',
    retention: 'idempotency: 24 hours',
    personal: {
      principal: userRef('whose key this is (`user:<id>`)'),
      response_body: { category: 'free_text', purpose: 'the replayed response; may hold what the create returned', erasure: 'delete_row' },
    },
    notPersonal: ['tenant_id', 'id', 'key', 'route', 'request_hash', 'response_status', 'created_at'],
  },
  domain_events: {
    about: 'an outbox event committed with a change',
    subjects: 'whatever the event describes',
    retention: 'outbox: until published, then the delivery log rule',
    personal: {
      payload: { category: 'free_text', purpose: 'the event sent to webhooks; carries ids and changed fields', erasure: 'keep' },
    },
    notPersonal: ['tenant_id', 'id', 'type', 'subject_type', 'subject_id', 'occurred_at', 'published_at'],
  },
  tickets: {
    about: 'a support ticket',
    subjects: 'tenant users; people the ticket mentions',
    retention: 'tenant lifetime',
    personal: {
      subject: { category: 'free_text', purpose: 'the ticket title', erasure: 'pseudonymise' },
      body: { category: 'free_text', purpose: 'the request written by whoever opened it', erasure: 'pseudonymise' },
      opened_by_id: userRef('who opened the ticket'),
      assignee_id: { category: 'pseudonymous_id', purpose: 'who works on it', erasure: 'clear' },
    },
    notPersonal: ['tenant_id', 'id', 'status', 'priority', 'opened_by_client_id', 'version', 'created_at', 'updated_at'],
  },
  ticket_comments: {
    about: 'a comment on a ticket',
    subjects: 'tenant users',
    retention: 'tenant lifetime (with its ticket)',
    personal: {
      author_id: userRef('who wrote the comment'),
      body: { category: 'free_text', purpose: 'the comment', erasure: 'pseudonymise' },
    },
    notPersonal: ['tenant_id', 'id', 'ticket_id', 'created_at'],
  },
  documents: {
    about: "a file's metadata",
    subjects: 'tenant users; people the file describes',
    retention: 'tenant lifetime, or until deleted',
    personal: {
      file_name: { category: 'file', purpose: 'the name given at upload', erasure: 'delete_row' },
      uploaded_by_id: { category: 'pseudonymous_id', purpose: 'who uploaded it', erasure: 'delete_row' },
    },
    notPersonal: ['tenant_id', 'id', 'content_type', 'size_bytes', 'sha256', 'storage_key', 'invoice_id', 'ticket_id', 'created_at'],
  },
  document_contents: {
    about: "a file's bytes (default document storage)",
    subjects: 'people the file describes',
    retention: 'with its document',
    personal: {
      content: { category: 'file', purpose: 'the uploaded file', erasure: 'delete_row' },
    },
    notPersonal: ['tenant_id', 'id', 'created_at'],
  },
  partner_clients: {
    about: 'a machine client of the partner surface',
    subjects: 'none (a machine); the registering user',
    retention: 'until revoked or expired, then the tenant lifetime',
    personal: {
      created_by_id: userRef('who registered it'),
      secret_hash: { category: 'credential', purpose: "the client's secret (a machine credential, listed because it is a secret)", erasure: 'keep' },
    },
    notPersonal: ['tenant_id', 'id', 'name', 'environment', 'scopes', 'tier', 'ip_allowlist', 'require_signatures', 'expires_at', 'revoked_at', 'version', 'created_at', 'updated_at'],
  },
  partner_api_keys: {
    about: 'an API key of a partner client, as an HMAC',
    subjects: 'none (a machine); the creating user',
    retention: 'until revoked or expired, then the tenant lifetime',
    personal: {
      created_by_id: userRef('who created it'),
      key_hash: { category: 'credential', purpose: 'recognises the key (a machine credential)', erasure: 'keep' },
    },
    notPersonal: ['tenant_id', 'id', 'client_id', 'prefix', 'environment', 'expires_at', 'revoked_at', 'last_used_at', 'replaced_by_id', 'created_at'],
  },
  invitations: {
    about: 'an invitation to join the tenant',
    subjects: 'invitees (before they have an account), the inviting user',
    retention: 'invitation: until accepted, revoked or expired, then purged',
    personal: {
      email: { category: 'contact', purpose: 'where the invitation goes; matched at acceptance', erasure: 'pseudonymise' },
      display_name: { category: 'identity', purpose: 'the name the invitee will have in the tenant', erasure: 'clear' },
      token_hash: { category: 'credential', purpose: 'recognises the single-use token', erasure: 'keep' },
      invited_by_id: userRef('who invited'),
      accepted_user_id: userRef('who accepted'),
    },
    notPersonal: ['tenant_id', 'id', 'role', 'created_at', 'expires_at', 'accepted_at', 'revoked_at'],
  },
  security_blocks: {
    about: 'a principal the abuse detector blocked',
    subjects: 'tenant users, partner clients',
    retention: 'security block: 90 days after it ends',
    personal: {
      principal: userRef('who was blocked (`user:<id>`)'),
      ip: { category: 'network', purpose: 'where the abuse came from', erasure: 'clear' },
    },
    notPersonal: ['tenant_id', 'id', 'signal', 'observed', 'threshold', 'window_s', 'blocked_at', 'expires_at', 'lifted_at', 'lifted_by'],
  },
  exports: {
    about: 'an export job and its file',
    subjects: 'the requesting user; whoever the exported rows describe',
    retention: 'export: until its download link expires, then purged',
    personal: {
      requested_by_id: { category: 'pseudonymous_id', purpose: 'who asked for it (the only one who may download it)', erasure: 'delete_row' },
      filters: { category: 'free_text', purpose: 'what was asked for (a search text, a subject id)', erasure: 'delete_row' },
    },
    notPersonal: ['tenant_id', 'id', 'type', 'format', 'status', 'row_count', 'byte_size', 'sha256', 'error_code', 'created_at', 'started_at', 'completed_at', 'expires_at', 'version', 'requeues'],
  },
  export_chunks: {
    about: "a piece of an export's file",
    subjects: 'whoever the exported rows describe',
    retention: 'with its export',
    personal: {
      bytes: { category: 'file', purpose: 'the exported rows', erasure: 'delete_row' },
    },
    notPersonal: ['tenant_id', 'id', 'export_id', 'seq'],
  },
  webhook_endpoints: {
    about: "a tenant's webhook endpoint",
    subjects: 'none (a machine endpoint); the creating user',
    retention: 'until deleted, then the tenant lifetime',
    personal: {
      created_by_id: userRef('who created it'),
      description: { category: 'free_text', purpose: 'a note by the admin', erasure: 'keep' },
    },
    notPersonal: ['tenant_id', 'id', 'url', 'events', 'enabled', 'secret_ciphertext', 'previous_secret_ciphertext', 'previous_secret_expires_at', 'failing_since', 'disabled_at', 'disabled_reason', 'version', 'created_at', 'updated_at'],
  },
  webhook_deliveries: {
    about: 'one message to one webhook endpoint',
    subjects: 'whatever the event describes',
    retention: 'delivery log: 30 days',
    personal: {
      payload: { category: 'free_text', purpose: 'the event as sent', erasure: 'keep' },
    },
    notPersonal: ['tenant_id', 'id', 'endpoint_id', 'message_id', 'event_type', 'event_id', 'status', 'attempts', 'next_attempt_at', 'last_status_code', 'delivered_at', 'created_at', 'updated_at'],
  },
  webhook_attempts: {
    about: 'one delivery attempt',
    subjects: 'none',
    retention: 'delivery log: 30 days',
    personal: {
      response_excerpt: { category: 'free_text', purpose: "the start of the receiver's answer, for debugging", erasure: 'keep' },
    },
    notPersonal: ['tenant_id', 'id', 'delivery_id', 'attempt', 'status_code', 'latency_ms', 'error', 'attempted_at'],
  },
  payment_accounts: {
    about: "a payment provider's account that belongs to the tenant",
    subjects: 'none (an organisation account)',
    retention: 'tenant lifetime',
    personal: {},
    notPersonal: ['tenant_id', 'id', 'provider', 'account_id', 'created_at'],
  },
  payment_events: {
    about: 'an accepted inbound payment event',
    subjects: 'none (ids and outcomes only)',
    retention: 'tenant lifetime (payment records)',
    personal: {},
    notPersonal: ['tenant_id', 'id', 'provider', 'message_id', 'event_type', 'invoice_id', 'outcome', 'received_at'],
  },
  privacy_requests: {
    about: 'a data subject request (access or erasure) and its outcome',
    subjects: 'tenant users',
    retention: 'privacy request: tenant lifetime (proof that the request was served)',
    personal: {
      subject_user_id: userRef('whose data the request is about; kept as proof, pseudonymous after erasure'),
      subject_member_id: userRef('the member id the API names the subject by; points at nothing after erasure'),
      requested_by_id: userRef('who asked'),
    },
    notPersonal: ['tenant_id', 'id', 'kind', 'status', 'export_id', 'result', 'error_code', 'created_at', 'completed_at'],
  },
  operators: {
    about: 'a person who runs the platform (internal surface)',
    subjects: 'platform operators (staff)',
    retention: 'operator: employment, then disabled',
    personal: {
      email: { category: 'contact', purpose: 'identifies the operator', erasure: 'keep' },
      display_name: { category: 'identity', purpose: 'shown in operator tools', erasure: 'keep' },
    },
    notPersonal: ['id', 'roles', 'status', 'created_at'],
  },
  metrics_scrape_credentials: {
    about: 'a Prometheus scrape credential, as an HMAC',
    subjects: 'none (a machine credential)',
    retention: 'until revoked or expired',
    personal: {},
    notPersonal: ['id', 'name', 'prefix', 'secret_hash', 'created_by', 'created_at', 'expires_at', 'revoked_at', 'last_used_at'],
  },
  access_records: {
    about: 'one successful authenticated read or change of a personal-data record (breach scoping)',
    subjects: 'tenant users and partner clients (the principal); the records they touched name other people',
    retention: 'access records: RETENTION_ACCESS_RECORDS_DAYS (365) after the request',
    personal: {
      principal: userRef('who made the request (`user:<id>`, `partner:<id>`); kept for breach scoping, pseudonymous once the account is erased'),
      credential: { category: 'pseudonymous_id', purpose: 'which session or key was used (`session:<id>`, `partner_key:<id>`): what a stolen credential touched', erasure: 'keep' },
      ip: { category: 'network', purpose: 'where the request came from; breach scoping by address', erasure: 'clear' },
    },
    notPersonal: ['tenant_id', 'id', 'occurred_at', 'request_id', 'action', 'method', 'route', 'record_type', 'record_id', 'status'],
  },
  partner_signing_keys: {
    about: 'an Ed25519 public key a partner client signs its requests with (RFC 9421)',
    subjects: 'none (an integration\u2019s key); who registered it is a user',
    retention: 'partner credentials: kept with the client, revoked rather than deleted',
    personal: {
      created_by_id: userRef('who registered the key; kept for the audit trail'),
    },
    notPersonal: ['tenant_id', 'id', 'client_id', 'keyid', 'alg', 'public_key', 'label', 'revoked_at', 'last_used_at', 'created_at'],
  },
  key_ring: {
    about: 'a signing key the processes rotate themselves, encrypted under the deployment root keys',
    subjects: 'none (key material)',
    retention: 'key ring: kept while a token it signed may be presented; retired and revoked by rotation',
    personal: {},
    notPersonal: ['family', 'kid', 'state', 'root_kid', 'material', 'created_at', 'activated_at', 'retired_at', 'verify_until', 'revoked_at'],
  },
  platform_audit_events: {
    about: 'a security event with no tenant (operator actions, internal refusals)',
    subjects: 'platform operators, internal callers',
    retention: 'platform audit: 1 year',
    personal: {
      actor: { category: 'pseudonymous_id', purpose: 'which operator or service acted', erasure: 'keep' },
      ip: { category: 'network', purpose: 'where the request came from', erasure: 'keep' },
      reason: { category: 'free_text', purpose: "the operator's signed reason", erasure: 'keep' },
      data: { category: 'free_text', purpose: 'event details', erasure: 'keep' },
    },
    notPersonal: ['id', 'occurred_at', 'type', 'outcome', 'subject', 'request_id'],
  },
};
