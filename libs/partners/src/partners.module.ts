import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { PartnerApiKeysRepository } from './partner-api-keys.repository.js';
import { PartnerApiKeysService } from './partner-api-keys.service.js';
import { PartnerClientsRepository } from './partner-clients.repository.js';
import { PartnerClientsService } from './partner-clients.service.js';

/** Management of partner clients and their API keys (/v1/partner-clients); PartnerCredentials comes from AuthModule. */
@Module({
  imports: [AuthModule],
  providers: [PartnerClientsService, PartnerClientsRepository, PartnerApiKeysService, PartnerApiKeysRepository],
  exports: [PartnerClientsService, PartnerApiKeysService],
})
export class PartnersModule {}
