export { MembersModule } from './members.module.js';
export { MembersService, type MemberView } from './members.service.js';
export { MemberError, MemberErrorCode } from './member.errors.js';
