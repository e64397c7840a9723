import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { AccessTokens } from './access-tokens.js';
import { AuthService } from './auth.service.js';
import { PartnerAuthService } from './partner-auth.service.js';
import { PartnerCredentials } from './partner-credentials.js';
import { PartnerStrategy } from './partner.strategy.js';
import { PasswordHasher } from './password-hasher.js';
import { PublicJwtStrategy } from './public-jwt.strategy.js';
import { RefreshTokens } from './refresh-tokens.js';
import { RevocationStore } from './revocation-store.js';
import { SigningKeys } from './signing-keys.js';

@Module({
  imports: [PassportModule],
  providers: [SigningKeys, AccessTokens, RefreshTokens, PasswordHasher, RevocationStore, AuthService, PublicJwtStrategy, PartnerCredentials, PartnerAuthService, PartnerStrategy],
  exports: [SigningKeys, AccessTokens, RefreshTokens, PasswordHasher, RevocationStore, AuthService, PartnerCredentials, PartnerAuthService, PublicJwtStrategy, PartnerStrategy],
})
export class AuthModule {}
