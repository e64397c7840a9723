import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { InvitationMailer, InvitationTokens, NoInvitationMailer } from './invitation-tokens.js';
import { InvitationsRepository } from './invitations.repository.js';
import { InvitationsService } from './invitations.service.js';
import { MembersRepository } from './members.repository.js';
import { MembersService } from './members.service.js';

@Module({
  imports: [AuthModule],
  // A deployment with a mailer replaces NoInvitationMailer here (libs/members/src/invitation-tokens.ts).
  providers: [MembersService, MembersRepository, InvitationsService, InvitationsRepository, InvitationTokens, { provide: InvitationMailer, useClass: NoInvitationMailer }],
  exports: [MembersService, InvitationsService],
})
export class MembersModule {}
