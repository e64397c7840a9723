// Runs a compiled entry point: `node apps/dev/run.mjs prisma/seed.js` loads .env (apps/dev/lib/env.mjs),
// builds (incrementally) and then starts dist/prisma/seed.js with the same Node binary (Node 24 from
// the node@24 package). The build's output goes to stderr so the entry point's stdout stays its own
// (`npm run --silent internal -- GET /internal/metrics | promtool check metrics`).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadDotEnv } from './lib/env.mjs';
import { dist, root } from './lib/paths.mjs';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: npm run … (apps/dev/run.mjs) <path under dist/> [args]\n');
  process.exit(2);
}
loadDotEnv();
const build = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'build.mjs')], { cwd: root, stdio: ['ignore', process.stderr, 'inherit'] });
if (build.status !== 0) process.exit(build.status ?? 1);
const result = spawnSync(process.execPath, [join(dist, entry), ...args], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
