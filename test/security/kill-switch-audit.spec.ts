import { AUDIT_SCENARIOS } from './kill-switches/audit.js';
import { runKillSwitches } from './support/kill-switch.js';

/** Kill-switch proof for the audit trail (test/security/kill-switches/audit.ts). */
runKillSwitches(AUDIT_SCENARIOS);
