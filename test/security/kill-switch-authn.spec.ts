import { AUTHN_SCENARIOS } from './kill-switches/authn.js';
import { runKillSwitches } from './support/kill-switch.js';

/** Kill-switch proof for the authentication and session controls (test/security/kill-switches/authn.ts). */
runKillSwitches(AUTHN_SCENARIOS);
