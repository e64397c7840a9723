// The packages a production install needs, computed from package-lock.json.
//
// `npm ci --omit=dev` / `npm prune --omit=dev` keep a devDependency that is also an *optional peer*
// of a production package (npm marks it `devOptional`): the Prisma CLI (`prisma`, an optional peer
// of @prisma/client, with its Studio, dev server and engines) and `typescript` (an optional peer of
// @nestjs/swagger and valibot) would ship in the image although no production code loads them. npm
// has no switch for "not optional peers" (--omit=optional would also drop the native binaries of
// @node-rs/argon2, which are optional dependencies), so this walks the lock itself: from the root's
// `dependencies`, along `dependencies`, `optionalDependencies` and required peers. An optional peer
// is the consumer's choice; it counts only when reached another way.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Resolves `name` as Node would from the package installed at `from` (a lock key such as `node_modules/a`). */
function resolve(packages, from, name) {
  let dir = from;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut === -1 ? '' : dir.slice(0, cut);
  }
}

/** Lock keys (`node_modules/…`) of every package production needs. */
export function productionPackages(lock) {
  const packages = lock.packages;
  const keep = new Set();
  const visit = (from, deps) => {
    for (const name of Object.keys(deps ?? {})) {
      const key = resolve(packages, from, name);
      // An optional dependency for another platform is not in the tree: nothing to keep.
      if (!key || keep.has(key)) continue;
      keep.add(key);
      const pkg = packages[key];
      const optionalPeers = new Set(Object.entries(pkg.peerDependenciesMeta ?? {}).filter(([, meta]) => meta?.optional).map(([peer]) => peer));
      const requiredPeers = Object.fromEntries(Object.entries(pkg.peerDependencies ?? {}).filter(([peer]) => !optionalPeers.has(peer)));
      visit(key, { ...pkg.dependencies, ...pkg.optionalDependencies, ...requiredPeers });
    }
  };
  const root = packages[''];
  visit('', { ...root.dependencies, ...root.optionalDependencies });
  return keep;
}

export function readLock(dir) {
  return JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
}
