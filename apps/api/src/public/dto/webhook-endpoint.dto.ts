import { applyDecorators } from '@nestjs/common';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsBoolean, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength, ValidateIf } from 'class-validator';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '@benteng/webhooks';
import { PageQuery } from '../../http/dto/page.dto.js';

/**
 * The shape checks only: an absolute http(s) URL within the column's length. Whether it may
 * receive webhooks (https in production, no credentials, no private or special address) is the
 * service's question (SafeHttpClient.assertDeliverableUrl), answered as webhook.url_not_allowed.
 */
const EndpointUrl = () => applyDecorators(IsString(), MinLength(8), MaxLength(2048), Matches(/^https?:\/\/[^\s]+$/i, { message: 'must be an absolute http(s) URL' }));

/** Event types: a non-empty set from WEBHOOK_EVENT_TYPES. */
const EventSet = () => applyDecorators(IsArray(), ArrayMinSize(1), ArrayMaxSize(WEBHOOK_EVENT_TYPES.length), ArrayUnique(), IsIn(WEBHOOK_EVENT_TYPES, { each: true }));

export class CreateWebhookEndpointDto {
  @EndpointUrl()
  url!: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string | null;

  @EventSet()
  events!: WebhookEventType[];

  /** Default true. */
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

/**
 * What an admin may change; the secret changes only through /secret/rotate. Fields other than
 * description cannot be cleared, so null is refused for them (ValidateIf instead of IsOptional).
 */
export class UpdateWebhookEndpointDto {
  @ValidateIf((_, value) => value !== undefined)
  @EndpointUrl()
  url?: string;

  /** null clears it. */
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string | null;

  @ValidateIf((_, value) => value !== undefined)
  @EventSet()
  events?: WebhookEventType[];

  /** true re-enables an endpoint the system disabled and forgets its failures; false switches it off. */
  @ValidateIf((_, value) => value !== undefined)
  @IsBoolean()
  enabled?: boolean;
}

export class ListWebhookEndpointsQuery extends PageQuery {}
export class ListWebhookDeliveriesQuery extends PageQuery {}
