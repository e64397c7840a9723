import { SIGNING_SCENARIOS } from './kill-switches/signing.js';
import { runKillSwitches } from './support/kill-switch.js';

/** Kill-switch proof for signed partner requests (test/security/kill-switches/signing.ts). */
runKillSwitches(SIGNING_SCENARIOS);
