import { Body, Controller, Header, HttpCode, Post } from '@nestjs/common';
import { LoginService, PasswordService, RefreshService, SessionsService, TenantSwitchService, type VerifiedUserToken, type RequestMeta, type TokenPair } from '@benteng/auth';
import type { Scope } from '@benteng/tenancy';
import { Authorize, Anonymous, RateLimit } from '../http/access.decorator.js';
import { CurrentScope, CurrentUser, Meta } from '../http/request-auth.js';
import { ChangePasswordDto, LoginDto, RefreshDto, SwitchTenantDto } from './dto/auth.dto.js';

@Controller('v1/auth')
export class AuthController {
  constructor(
    private readonly logins: LoginService,
    private readonly refreshes: RefreshService,
    private readonly sessions: SessionsService,
    private readonly switches: TenantSwitchService,
    private readonly passwords: PasswordService,
  ) {}

  @Post('login')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @RateLimit('auth')
  @Anonymous('login: the credentials in the body are the authentication (throttled per account and address, per account, and per address)', { credential: 'password' })
  login(@Body() body: LoginDto, @Meta() meta: RequestMeta): Promise<TokenPair> {
    return this.logins.login(body, meta);
  }

  @Post('refresh')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @RateLimit('auth')
  @Anonymous('refresh: the refresh token in the body is the credential (throttled per IP)', { credential: 'refresh-token' })
  refresh(@Body() body: RefreshDto, @Meta() meta: RequestMeta): Promise<TokenPair> {
    return this.refreshes.refresh(body.refreshToken, meta);
  }

  @Post('logout')
  @HttpCode(204)
  @Authorize('delete', 'Session')
  async logout(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken, @Meta() meta: RequestMeta): Promise<void> {
    await this.sessions.logout(scope, user.sessionId, meta);
  }

  @Post('logout-all')
  @HttpCode(204)
  @Authorize('delete', 'Session')
  async logoutAll(@CurrentScope() scope: Scope, @Meta() meta: RequestMeta): Promise<void> {
    await this.sessions.logoutAll(scope, meta);
  }

  @Post('switch-tenant')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @Authorize('read', 'Tenant')
  @RateLimit('auth')
  switchTenant(@CurrentScope() scope: Scope, @Body() body: SwitchTenantDto, @Meta() meta: RequestMeta): Promise<TokenPair> {
    return this.switches.switchTenant(scope, body.tenant, meta);
  }

  @Post('password')
  @HttpCode(204)
  @Authorize('update', 'User')
  @RateLimit('auth')
  async changePassword(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken, @Body() body: ChangePasswordDto, @Meta() meta: RequestMeta): Promise<void> {
    await this.passwords.change(scope, user.sessionId, body, meta);
  }
}
