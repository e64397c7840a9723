import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { PartnerApiKeysRepository } from './partner-api-keys.repository.js';
import { PartnerApiKeysService } from './partner-api-keys.service.js';
import { PartnerClientsRepository } from './partner-clients.repository.js';
import { PartnerClientsService } from './partner-clients.service.js';
import { PartnerRequestSignatures } from './partner-request-signatures.js';
import { PartnerSigningKeysRepository } from './partner-signing-keys.repository.js';
import { PartnerSigningKeysService } from './partner-signing-keys.service.js';
import { RedisSignatureNonceStore, SignatureNonceStore } from './signature-nonce-store.js';

/**
 * Management of partner clients, their API keys and request-signing keys (/v1/partner-clients), and
 * the verification of signed partner requests the request gate calls (PartnerRequestSignatures,
 * provided by class so a test app can replace it: test/security/kill-switches/). PartnerCredentials
 * comes from AuthModule.
 */
@Module({
  imports: [AuthModule],
  providers: [
    PartnerClientsService,
    PartnerClientsRepository,
    PartnerApiKeysService,
    PartnerApiKeysRepository,
    PartnerSigningKeysService,
    PartnerSigningKeysRepository,
    PartnerRequestSignatures,
    { provide: SignatureNonceStore, useClass: RedisSignatureNonceStore },
  ],
  exports: [PartnerClientsService, PartnerApiKeysService, PartnerSigningKeysService, PartnerRequestSignatures],
})
export class PartnersModule {}
