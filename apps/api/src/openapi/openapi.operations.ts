/**
 * The operationId and summary of every documented operation, keyed `Controller.handler`. Generated
 * clients name their methods after operationIds (`listInvoices`, not `InvoicesController_list`), so
 * each is written here once, readable and unique within its document; a route missing here fails
 * the document build (apps/api/src/openapi/openapi.document.ts, apps/api/src/internal/internal-openapi.ts),
 * so a new route cannot ship without a name.
 */
export interface OperationName {
  readonly id: string;
  readonly summary: string;
}

const table = (entries: Record<string, [id: string, summary: string]>): Record<string, OperationName> =>
  Object.fromEntries(Object.entries(entries).map(([key, [id, summary]]) => [key, { id, summary }]));

export const PUBLIC_OPERATIONS = table({
  'AuthController.login': ['login', 'Log in with email and password'],
  'AuthController.refresh': ['refreshTokens', 'Exchange a refresh token for a new token pair'],
  'AuthController.logout': ['logout', 'Log out of this session'],
  'AuthController.logoutAll': ['logoutAll', 'Log out of every session'],
  'AuthController.switchTenant': ['switchTenant', 'Switch to another tenant of the user'],
  'AuthController.changePassword': ['changePassword', 'Change the password'],
  'MeController.me': ['getMe', 'Get the current user, tenant and role'],
  'SessionsController.list': ['listSessions', 'List my sessions'],
  'SessionsController.revoke': ['revokeSession', 'Revoke one of my sessions'],
  'MembersController.list': ['listMembers', 'List members of the tenant'],
  'MembersController.changeRole': ['changeMemberRole', "Change a member's role"],
  'MembersController.remove': ['removeMember', 'Remove a member'],
  'InvitationsController.list': ['listInvitations', 'List invitations'],
  'InvitationsController.create': ['createInvitation', 'Invite someone to the tenant'],
  'InvitationsController.accept': ['acceptInvitation', 'Accept an invitation as an existing user'],
  'InvitationsController.register': ['registerWithInvitation', 'Register a new user with an invitation'],
  'InvitationsController.get': ['getInvitation', 'Get an invitation'],
  'InvitationsController.revoke': ['revokeInvitation', 'Revoke an invitation'],
  'InvoicesController.list': ['listInvoices', 'List invoices'],
  'InvoicesController.create': ['createInvoice', 'Create a draft invoice'],
  'InvoicesController.get': ['getInvoice', 'Get an invoice'],
  'InvoicesController.update': ['updateInvoice', 'Update a draft invoice'],
  'InvoicesController.remove': ['deleteInvoice', 'Delete a draft invoice'],
  'InvoicesController.issue': ['issueInvoice', 'Issue an invoice'],
  'InvoicesController.void': ['voidInvoice', 'Void an invoice'],
  'InvoicesController.pay': ['payInvoice', 'Mark an invoice paid'],
  'TicketsController.list': ['listTickets', 'List tickets'],
  'TicketsController.open': ['openTicket', 'Open a ticket'],
  'TicketsController.search': ['searchTickets', 'Search tickets'],
  'TicketsController.get': ['getTicket', 'Get a ticket'],
  'TicketsController.update': ['updateTicket', 'Update a ticket'],
  'TicketsController.assign': ['assignTicket', 'Assign a ticket'],
  'TicketsController.comments': ['listTicketComments', "List a ticket's comments"],
  'TicketsController.comment': ['addTicketComment', 'Comment on a ticket'],
  'DocumentsController.list': ['listDocuments', 'List documents'],
  'DocumentsController.upload': ['uploadDocument', 'Upload a document'],
  'DocumentsController.get': ['getDocument', "Get a document's metadata"],
  'DocumentsController.remove': ['deleteDocument', 'Delete a document'],
  'DocumentsController.download': ['downloadDocument', "Download a document's bytes"],
  'ExportsController.create': ['createExport', 'Start an export'],
  'PrivacyController.create': ['createPrivacyRequest', 'Make a data subject request (access or erasure)'],
  'PrivacyController.list': ['listPrivacyRequests', 'List data subject requests'],
  'PrivacyController.get': ['getPrivacyRequest', 'Get a data subject request'],
  'ExportsController.list': ['listExports', 'List exports'],
  'ExportsController.get': ['getExport', 'Get an export'],
  'ExportsController.content': ['downloadExport', "Download an export's file"],
  'ExportsController.downloadUrl': ['createExportDownloadUrl', 'Create a signed download link for an export'],
  'ExportsController.file': ['downloadExportBySignedLink', 'Download an export by its signed link'],
  'PartnerClientsController.list': ['listPartnerClients', 'List partner clients'],
  'PartnerClientsController.create': ['createPartnerClient', 'Create a partner client'],
  'PartnerClientsController.get': ['getPartnerClient', 'Get a partner client'],
  'PartnerClientsController.update': ['updatePartnerClient', 'Update a partner client'],
  'PartnerClientsController.revoke': ['revokePartnerClient', 'Revoke a partner client'],
  'PartnerClientsController.rotateSecret': ['rotatePartnerClientSecret', "Rotate a partner client's secret"],
  'PartnerClientsController.listKeys': ['listPartnerKeys', "List a partner client's API keys"],
  'PartnerClientsController.createKey': ['createPartnerKey', 'Create an API key for a partner client'],
  'PartnerClientsController.rotateKey': ['rotatePartnerKey', 'Rotate a partner API key'],
  'PartnerClientsController.revokeKey': ['revokePartnerKey', 'Revoke a partner API key'],
  'PartnerSigningKeysController.list': ['listPartnerSigningKeys', "List a partner client's request-signing keys"],
  'PartnerSigningKeysController.register': ['registerPartnerSigningKey', 'Register an Ed25519 public key a partner client signs requests with (RFC 9421)'],
  'PartnerSigningKeysController.revoke': ['revokePartnerSigningKey', 'Revoke a partner request-signing key'],
  'SecurityBlocksController.list': ['listSecurityBlocks', 'List active security blocks of the tenant'],
  'WellKnownController.jwks': ['getJwks', 'Get the JSON Web Key Set that verifies access tokens'],
  'WellKnownController.oauthMetadata': ['getOAuthServerMetadata', 'Get the OAuth authorization server metadata'],
  'WebhookEndpointsController.list': ['listWebhookEndpoints', 'List webhook endpoints'],
  'WebhookEndpointsController.create': ['createWebhookEndpoint', 'Create a webhook endpoint'],
  'WebhookEndpointsController.get': ['getWebhookEndpoint', 'Get a webhook endpoint'],
  'WebhookEndpointsController.update': ['updateWebhookEndpoint', 'Update a webhook endpoint'],
  'WebhookEndpointsController.remove': ['deleteWebhookEndpoint', 'Delete a webhook endpoint'],
  'WebhookEndpointsController.rotateSecret': ['rotateWebhookSecret', "Rotate a webhook endpoint's signing secret"],
  'WebhookEndpointsController.deliveries': ['listWebhookDeliveries', "List a webhook endpoint's deliveries"],
  'WebhookEndpointsController.delivery': ['getWebhookDelivery', 'Get a webhook delivery'],
  'WebhookEndpointsController.redeliver': ['redeliverWebhook', 'Redeliver a webhook delivery'],
  'WebhookEndpointsController.ping': ['pingWebhookEndpoint', 'Send a test event to a webhook endpoint'],
});

export const PARTNER_OPERATIONS = table({
  'PartnerTokenController.token': ['requestToken', 'Request a client-credentials access token'],
  'PartnerInvoicesController.list': ['listInvoices', 'List invoices'],
  'PartnerInvoicesController.create': ['createInvoice', 'Create a draft invoice'],
  'PartnerInvoicesController.get': ['getInvoice', 'Get an invoice'],
  'PartnerTicketsController.list': ['listTickets', 'List tickets'],
  'PartnerTicketsController.open': ['openTicket', 'Open a ticket'],
  'PartnerTicketsController.get': ['getTicket', 'Get a ticket'],
  'PartnerDocumentsController.list': ['listDocuments', 'List documents'],
  'PartnerDocumentsController.get': ['getDocument', "Get a document's metadata"],
  'PartnerDocumentsController.download': ['downloadDocument', "Download a document's bytes"],
});

export const INTERNAL_OPERATIONS = table({
  'MetricsController.scrape': ['scrapeMetrics', 'Prometheus metrics of this process'],
  'MetricsCredentialsController.create': ['createMetricsCredential', 'Create a Prometheus scrape credential'],
  'MetricsCredentialsController.list': ['listMetricsCredentials', 'List the Prometheus scrape credentials'],
  'MetricsCredentialsController.revoke': ['revokeMetricsCredential', 'Revoke a Prometheus scrape credential'],
  'IncidentsController.searchAudit': ['searchAudit', 'Search the audit log'],
  'IncidentsController.blocks': ['listBlocks', 'List active security blocks'],
  'IncidentsController.lift': ['liftBlock', 'Lift a security block'],
  'IncidentsController.incident': ['getIncident', 'Gather what is known about an incident'],
  'IncidentsController.verify': ['verifyAuditChain', "Verify a tenant's audit hash chain"],
  'IncidentsController.breachScope': ['scopeBreach', 'Scope a personal data breach: tenants, data subjects, record types, notification deadline'],
  'InternalOpenApiController.openapi': ['getInternalOpenApi', 'This document'],
  'OperatorsController.ping': ['pingOperator', 'Check a signed operator request end to end'],
  'OperatorsController.whoami': ['whoami', 'Who the signed caller is'],
  'QueueBoardController.createSession': ['createQueueBoardSession', 'Open a queue board session'],
  'InternalAdminController.revoke': ['revokeCredentials', 'Revoke credentials'],
  'InternalAdminController.createTenant': ['createTenant', 'Create a tenant'],
  'InternalAdminController.reactivateTenant': ['reactivateTenant', 'Reactivate a suspended tenant'],
  'InternalAdminController.suspendTenant': ['suspendTenant', 'Suspend a tenant'],
  'InternalAdminController.lockUser': ['lockUser', 'Lock a user'],
  'InternalAdminController.unlockUser': ['unlockUser', 'Unlock a user'],
  'InternalTenantsController.list': ['listTenants', 'List tenants'],
});

/** The name of `key` in `operations`; a route nobody named fails the build. */
export function operationName(operations: Record<string, OperationName>, key: string): OperationName {
  const name = operations[key];
  if (!name) throw new Error(`OpenAPI: no operationId and summary declared for ${key} (apps/api/src/openapi/openapi.operations.ts)`);
  return name;
}
