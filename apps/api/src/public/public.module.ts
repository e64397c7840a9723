import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { MembersModule } from '@benteng/members';
import { AuthController } from './auth.controller.js';
import { MeController } from './me.controller.js';
import { MembersController } from './members.controller.js';
import { SessionsController } from './sessions.controller.js';
import { WellKnownController } from './well-known.controller.js';

/** The public surface, /v1: tenant users with short-lived access tokens. */
@Module({
  imports: [AuthModule, MembersModule],
  controllers: [AuthController, MeController, SessionsController, MembersController, WellKnownController],
})
export class PublicModule {}
