import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { MembersService } from './members.service.js';

@Module({
  imports: [AuthModule],
  providers: [MembersService],
  exports: [MembersService],
})
export class MembersModule {}
