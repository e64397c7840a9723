import { IsIn, Matches } from 'class-validator';
import { PRIVACY_REQUEST_KINDS, type PrivacyRequestKind } from '@benteng/privacy';
import { PageQuery } from '../../http/dto/page.dto.js';

/** A data subject request: `subject` is `me` or a member id of this tenant (as in /v1/members/{id}). */
export class CreatePrivacyRequestDto {
  @IsIn(PRIVACY_REQUEST_KINDS)
  kind!: PrivacyRequestKind;

  @Matches(/^(me|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/, { message: 'must be "me" or a member id' })
  subject!: string;
}

export class ListPrivacyRequestsQuery extends PageQuery {}
