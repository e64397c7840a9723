import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

export enum WebhookErrorCode {
  EndpointNotFound = 'webhook.endpoint_not_found',
  DeliveryNotFound = 'webhook.delivery_not_found',
  Forbidden = 'webhook.forbidden',
  VersionMismatch = 'webhook.version_mismatch',
  UrlNotAllowed = 'webhook.url_not_allowed',
  EndpointDisabled = 'webhook.endpoint_disabled',
}

function describe(code: WebhookErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case WebhookErrorCode.EndpointNotFound:
      return { kind: 'not_found', message: 'Webhook endpoint not found.' };
    case WebhookErrorCode.DeliveryNotFound:
      return { kind: 'not_found', message: 'Webhook delivery not found.' };
    case WebhookErrorCode.Forbidden:
      return { kind: 'forbidden', message: 'Your role does not allow managing webhook endpoints.' };
    case WebhookErrorCode.VersionMismatch:
      return { kind: 'precondition_failed', message: 'The webhook endpoint has changed since you read it. Fetch it again and retry.' };
    case WebhookErrorCode.UrlNotAllowed:
      return {
        kind: 'invalid',
        message: 'The URL cannot receive webhooks: it must be an absolute http(s) URL (https in production) without credentials, on an allowed port, and not a private, loopback or link-local address.',
      };
    case WebhookErrorCode.EndpointDisabled:
      return { kind: 'conflict', message: 'The webhook endpoint is disabled: enable it before sending to it.' };
    default:
      return assertUnreachable(code);
  }
}

export class WebhookError extends DomainError<WebhookErrorCode> {
  readonly kind: DomainErrorKind;

  /** `reason`: for url_not_allowed, which rule the URL broke (a fixed word, never the URL or its address). */
  constructor(code: WebhookErrorCode, reason?: string) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
    if (reason) this.extensions = { reason };
  }
}
