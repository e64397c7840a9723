import { ASYNC_SCENARIOS } from './kill-switches/async.js';
import { runKillSwitches } from './support/kill-switch.js';

/** Kill-switch proof for jobs, exports, webhooks and egress (test/security/kill-switches/async.ts). */
runKillSwitches(ASYNC_SCENARIOS);
