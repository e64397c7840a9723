// Runs after `npm prune --omit=dev` in the image's build stage (Dockerfile): removes what that
// leaves but production never loads, i.e. devDependencies npm keeps as optional peers of production
// packages (the Prisma CLI and TypeScript; apps/dev/lib/production-deps.mjs explains why).
//
//   node apps/dev/prune-production.mjs [--dry-run]
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib/paths.mjs';
import { productionPackages, readLock } from './lib/production-deps.mjs';

const dryRun = process.argv.includes('--dry-run');
const lock = readLock(root);
const keep = productionPackages(lock);
const removed = [];
for (const key of Object.keys(lock.packages)) {
  if (!key.startsWith('node_modules/') || keep.has(key) || !existsSync(join(root, key))) continue;
  // A kept package nested inside a removed one would go with it; production never nests that way
  // (a kept package's parent is kept), but check rather than assume.
  if ([...keep].some((k) => k.startsWith(`${key}/`))) continue;
  removed.push(key);
  if (!dryRun) rmSync(join(root, key), { recursive: true, force: true });
}
process.stdout.write(`prune-production: ${dryRun ? 'would remove' : 'removed'} ${removed.length} package(s) production does not load${removed.length ? `: ${removed.map((k) => k.replace(/^node_modules\//, '')).join(', ')}` : ''}\n`);
