import { SECRETS_SCENARIOS } from './kill-switches/secrets.js';
import { runKillSwitches } from './support/kill-switch.js';

/** Kill-switch proof for secrets handling: one source per secret, secret scanning (test/security/kill-switches/secrets.ts). */
runKillSwitches(SECRETS_SCENARIOS);
