/**
 * The time. Injected wherever expiry is decided (tokens, sessions, audit timestamps) so tests move
 * time forward instead of sleeping.
 */
export abstract class Clock {
  abstract now(): Date;

  nowSeconds(): number {
    return Math.floor(this.now().getTime() / 1000);
  }
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}
