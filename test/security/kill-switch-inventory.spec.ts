import { INVENTORY_SCENARIOS } from './kill-switches/inventory.js';
import { runKillSwitches } from './support/kill-switch.js';

/** Kill-switch proof for API9: a forgotten debug route (test/security/kill-switches/inventory.ts). */
runKillSwitches(INVENTORY_SCENARIOS);
