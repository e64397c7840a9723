import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { InvoicesModule } from '@benteng/invoices';
import { MembersModule } from '@benteng/members';
import { TicketsModule } from '@benteng/tickets';
import { IdempotencyInterceptor } from '../http/idempotency.js';
import { AuthController } from './auth.controller.js';
import { InvoicesController } from './invoices.controller.js';
import { MeController } from './me.controller.js';
import { MembersController } from './members.controller.js';
import { SessionsController } from './sessions.controller.js';
import { TicketsController } from './tickets.controller.js';
import { WellKnownController } from './well-known.controller.js';

/** The public surface, /v1: tenant users with short-lived access tokens. */
@Module({
  imports: [AuthModule, MembersModule, InvoicesModule, TicketsModule],
  controllers: [AuthController, MeController, SessionsController, MembersController, InvoicesController, TicketsController, WellKnownController],
  providers: [IdempotencyInterceptor],
})
export class PublicModule {}
