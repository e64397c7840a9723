// `npm test`: the whole suite. Builds first (some tests start the compiled API and worker as real
// processes), then runs Vitest once. DATABASE_URL / REDIS_URL are used when set; without
// DATABASE_URL the tests start the embedded PostgreSQL under .data/pg-test.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './lib/paths.mjs';

const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const result = spawnSync(process.execPath, [vitest, 'run', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
