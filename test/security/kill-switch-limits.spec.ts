import { LIMITS_SCENARIOS } from './kill-switches/limits.js';
import { runKillSwitches } from './support/kill-switch.js';

/** Kill-switch proof for resource consumption and abuse controls (test/security/kill-switches/limits.ts). */
runKillSwitches(LIMITS_SCENARIOS);
