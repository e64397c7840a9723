import { AUTHZ_SCENARIOS } from './kill-switches/authz.js';
import { runKillSwitches } from './support/kill-switch.js';

/** Kill-switch proof for authorization, tenancy, mass assignment and exposure (test/security/kill-switches/authz.ts). */
runKillSwitches(AUTHZ_SCENARIOS);
