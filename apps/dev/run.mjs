// Runs a compiled entry point: `node apps/dev/run.mjs prisma/seed.js` builds (incrementally) and
// then starts dist/prisma/seed.js with the same Node binary (Node 24 from the node@24 package).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { dist, root } from './lib/paths.mjs';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: npm run … (apps/dev/run.mjs) <path under dist/> [args]\n');
  process.exit(2);
}
const build = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const result = spawnSync(process.execPath, [join(dist, entry), ...args], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
