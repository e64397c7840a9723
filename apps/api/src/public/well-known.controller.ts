import { Controller, Get, Header } from '@nestjs/common';
import { SigningKeys } from '@benteng/auth';
import type { JWK } from 'jose';
import { Public } from '../http/access.decorator.js';

@Controller('.well-known')
export class WellKnownController {
  constructor(private readonly keys: SigningKeys) {}

  @Get('jwks.json')
  @Header('cache-control', 'public, max-age=300')
  @Public('public keys that verify access tokens (RFC 7517); no secret material')
  jwks(): { keys: JWK[] } {
    return this.keys.publicJwks;
  }
}
