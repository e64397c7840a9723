import { IsEmail, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import type { MembershipRole } from '@benteng/database';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const ROLES: MembershipRole[] = ['owner', 'admin', 'member', 'viewer'];

export class LoginDto {
  @IsEmail({}, { message: 'must be an email address' })
  @MaxLength(254)
  email!: string;

  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password!: string;

  /** Slug of the tenant to log in to; the first membership when omitted. */
  @IsOptional()
  @Matches(SLUG)
  tenant?: string;
}

export class RefreshDto {
  @IsString()
  @MaxLength(200)
  refreshToken!: string;
}

export class SwitchTenantDto {
  @Matches(SLUG)
  tenant!: string;
}

export class ChangePasswordDto {
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  currentPassword!: string;

  /** NIST SP 800-63B: length over composition rules. */
  @IsString()
  @MinLength(12)
  @MaxLength(1024)
  newPassword!: string;
}

export class ChangeRoleDto {
  @IsIn(ROLES)
  role!: MembershipRole;
}
