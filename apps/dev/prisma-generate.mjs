// Runs `prisma generate` without network access.
//
// Every Prisma CLI command first looks for the native schema engine and tries to download it. When
// PRISMA_SCHEMA_ENGINE_BINARY points at an existing executable it skips the download; `generate`
// never runs that engine. The stub exits 1 on purpose: a stub exiting 0 would make
// `prisma migrate deploy` report success while applying nothing.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const prismaCli = join(root, 'node_modules', 'prisma', 'build', 'index.js');
// The Prisma CLI is a devDependency. A production install (`npm ci --omit=dev`, which still runs
// this as `postinstall`) has no CLI and needs none: the client is generated and compiled into dist/
// at build time (Dockerfile, build stage).
if (!existsSync(prismaCli)) {
  process.stderr.write('prisma generate skipped: the Prisma CLI (a devDependency) is not installed; the client is generated at build time\n');
  process.exit(0);
}
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const stub = join(root, '.tools', 'prisma-schema-engine-unavailable');
  if (!existsSync(stub)) {
    mkdirSync(dirname(stub), { recursive: true });
    writeFileSync(
      stub,
      '#!/bin/sh\necho "The Prisma schema engine is not installed here; use npm run db:migrate." >&2\nexit 1\n',
    );
    chmodSync(stub, 0o755);
  }
  env.PRISMA_SCHEMA_ENGINE_BINARY = stub;
}
const result = spawnSync(process.execPath, [prismaCli, 'generate', '--config', join('prisma', 'prisma.config.ts')], { cwd: root, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
