import { EDGE_SCENARIOS } from './kill-switches/edge.js';
import { runKillSwitches } from './support/kill-switch.js';

/** Kill-switch proof for the edge controls: problem+json errors, log redaction, security headers (test/security/kill-switches/edge.ts). */
runKillSwitches(EDGE_SCENARIOS);
