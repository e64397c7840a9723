import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { PartnerClientsService } from './partner-clients.service.js';

/** Management of partner clients and their API keys (/v1/partner-clients); PartnerCredentials comes from AuthModule. */
@Module({
  imports: [AuthModule],
  providers: [PartnerClientsService],
  exports: [PartnerClientsService],
})
export class PartnersModule {}
