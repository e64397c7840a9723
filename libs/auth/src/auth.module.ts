import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { AccessTokens } from './access-tokens.js';
import { AccountsRepository } from './accounts.repository.js';
import { LoginService } from './login.service.js';
import { PartnerAuthService } from './partner-auth.service.js';
import { PartnerCredentials } from './partner-credentials.js';
import { PartnerCredentialsRepository } from './partner-credentials.repository.js';
import { PartnerStrategy } from './partner.strategy.js';
import { PasswordHasher } from './password-hasher.js';
import { PasswordService } from './password.service.js';
import { ProfileService } from './profile.service.js';
import { PublicJwtStrategy } from './public-jwt.strategy.js';
import { RefreshService } from './refresh.service.js';
import { RefreshTokens } from './refresh-tokens.js';
import { RevocationStore } from './revocation-store.js';
import { SessionIssuer } from './session-issuer.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';
import { KeyRingRepository } from '@benteng/database';
import { KeyRotationService } from './key-rotation.service.js';
import { SigningKeys } from './signing-keys.js';
import { TenantSwitchService } from './tenant-switch.service.js';

/** The repositories of auth's aggregates: sessions (with their refresh tokens), accounts, partner credentials. */
const REPOSITORIES = [SessionsRepository, AccountsRepository, PartnerCredentialsRepository];
/** The services of tenant users' sign-in, one per concern; controllers inject the one they call. */
const USER_AUTH = [SessionIssuer, LoginService, RefreshService, SessionsService, PasswordService, ProfileService, TenantSwitchService];

@Module({
  imports: [PassportModule],
  providers: [...REPOSITORIES, KeyRingRepository, KeyRotationService, SigningKeys, AccessTokens, RefreshTokens, PasswordHasher, RevocationStore, ...USER_AUTH, PublicJwtStrategy, PartnerCredentials, PartnerAuthService, PartnerStrategy],
  exports: [SigningKeys, KeyRingRepository, KeyRotationService, AccessTokens, RefreshTokens, PasswordHasher, RevocationStore, ...USER_AUTH, PartnerCredentials, PartnerAuthService, PublicJwtStrategy, PartnerStrategy],
})
export class AuthModule {}
