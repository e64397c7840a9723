import { defineErrors } from '@benteng/common';

export enum WebhookErrorCode {
  EndpointNotFound = 'webhook.endpoint_not_found',
  DeliveryNotFound = 'webhook.delivery_not_found',
  Forbidden = 'webhook.forbidden',
  VersionMismatch = 'webhook.version_mismatch',
  UrlNotAllowed = 'webhook.url_not_allowed',
  EndpointDisabled = 'webhook.endpoint_disabled',
}

export class WebhookError extends defineErrors<WebhookErrorCode>({
  [WebhookErrorCode.EndpointNotFound]: { kind: 'not_found', message: 'Webhook endpoint not found.' },
  [WebhookErrorCode.DeliveryNotFound]: { kind: 'not_found', message: 'Webhook delivery not found.' },
  [WebhookErrorCode.Forbidden]: { kind: 'forbidden', message: 'Your role does not allow managing webhook endpoints.' },
  [WebhookErrorCode.VersionMismatch]: { kind: 'precondition_failed', message: 'The webhook endpoint has changed since you read it. Fetch it again and retry.' },
  [WebhookErrorCode.UrlNotAllowed]: { kind: 'invalid', message: 'The URL cannot receive webhooks: it must be an absolute http(s) URL (https in production) without credentials, on an allowed port, and not a private, loopback or link-local address.' },
  [WebhookErrorCode.EndpointDisabled]: { kind: 'conflict', message: 'The webhook endpoint is disabled: enable it before sending to it.' },
}) {
  /** `reason`: for url_not_allowed, which rule the URL broke (a fixed word, never the URL or its address). */
  constructor(code: WebhookErrorCode, reason?: string) {
    super(code);
    if (reason) this.extensions = { reason };
  }
}
