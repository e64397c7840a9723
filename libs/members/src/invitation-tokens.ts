import { createHmac, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { minted } from '@benteng/common';
import { AppConfig, tokenPepper } from '@benteng/config';

const TOKEN = /^bt_inv_[A-Za-z0-9_-]{43}$/;

/** The stored form of an invitation token: HMAC-SHA256 under the pepper, labelled by kind. */
export function invitationTokenHash(pepper: string | Buffer, token: string): string {
  return createHmac('sha256', pepper).update(`invitation\0${token}`).digest('hex');
}

/**
 * Invitation tokens: `bt_inv_<256 random bits>`. The prefix lets secret scanners and the leak
 * checks recognise one. Stored only as an HMAC under AUTH_TOKEN_PEPPER (as partner keys are: a
 * high-entropy random value needs no slow hash), in a column the runtime role cannot read; an
 * invitation is found by that hash through `invitation_lookup`.
 */
@Injectable()
export class InvitationTokens {
  private readonly pepper: Buffer;

  constructor(config: AppConfig, logger: PinoLogger) {
    this.pepper = tokenPepper(config, 'invitation-tokens', 'invitation tokens', logger);
  }

  mint(): { token: string; hash: string } {
    const token = minted('invitation token', `bt_inv_${randomBytes(32).toString('base64url')}`);
    return { token, hash: invitationTokenHash(this.pepper, token) };
  }

  /** The lookup hash of a well-formed token; undefined for anything else (never looked up). */
  hashOf(token: string): string | undefined {
    return TOKEN.test(token) ? invitationTokenHash(this.pepper, token) : undefined;
  }
}

/**
 * What a mailer is handed when an invitation is made. The token is here in clear, in memory, for
 * this one call: it is stored nowhere, and the outbox event `member.invited` does not carry it.
 */
export interface InvitationMessage {
  invitationId: string;
  tenantId: string;
  email: string;
  role: string;
  expiresAt: Date;
  token: string;
}

/**
 * Where a deployment plugs in its mailer (there is none in Benteng): provide another class for this
 * token in MembersModule. `deliver` answers true when the message went to the invitee's mailbox; the
 * token is then left out of the inviter's response, so only the mailbox holder can accept (the
 * mailbox is the proof of the email). Without a mailer the inviter receives the token once and
 * passes the link on.
 */
export abstract class InvitationMailer {
  abstract deliver(message: InvitationMessage): Promise<boolean>;
}

/** The default: nothing is sent; the inviter's response carries the token, once. */
@Injectable()
export class NoInvitationMailer extends InvitationMailer {
  deliver(): Promise<boolean> {
    return Promise.resolve(false);
  }
}
