import { PRIVACY_SCENARIOS } from './kill-switches/privacy.js';
import { runKillSwitches } from './support/kill-switch.js';

/** Kill-switch proof for data subject erasure (test/security/kill-switches/privacy.ts). */
runKillSwitches(PRIVACY_SCENARIOS);
