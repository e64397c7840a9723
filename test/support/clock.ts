import { Clock } from '@benteng/common';

/**
 * A Clock that stands still until a test moves it, so expiry is tested by advancing time, never by
 * sleeping. Install it with `buildApi({ overrides: [{ token: Clock, value: clock }] })`; every
 * decision the app takes from the Clock (token iat/exp and verification, session and refresh-token
 * expiry, audit timestamps) then follows it. Redis TTLs and PostgreSQL's now() keep real time.
 */
export class FakeClock extends Clock {
  private current: number;

  constructor(start: Date = new Date()) {
    super();
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(seconds: number): void {
    this.current += seconds * 1000;
  }
}
