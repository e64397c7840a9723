import { IsEmail, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import type { MembershipRole } from '@benteng/database';
import { ROLES } from './auth.dto.js';
import { PageQuery } from '../../http/dto/page.dto.js';

/** `bt_inv_` and 256 random bits, base64url: anything else is refused before any lookup. */
const INVITATION_TOKEN = /^bt_inv_[A-Za-z0-9_-]{43}$/;

export class CreateInvitationDto {
  @IsEmail({}, { message: 'must be an email address' })
  @MaxLength(254)
  email!: string;

  @IsIn(ROLES)
  role!: MembershipRole;

  /** The name the tenant will know the member by; the account's own name when omitted. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(120)
  displayName?: string;
}

export class ListInvitationsQuery extends PageQuery {}

export class AcceptInvitationDto {
  @Matches(INVITATION_TOKEN, { message: 'must be an invitation token' })
  token!: string;
}

export class RegisterWithInvitationDto {
  @Matches(INVITATION_TOKEN, { message: 'must be an invitation token' })
  token!: string;

  /** NIST SP 800-63B: length over composition rules (as for a password change). */
  @IsString()
  @MinLength(12)
  @MaxLength(1024)
  password!: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(120)
  name?: string;
}
