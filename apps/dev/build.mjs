// `npm run build`: type-check and compile to dist/ (incremental), then rewrite the @benteng/*
// path aliases in the emitted JavaScript to relative imports so plain Node can run it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib/paths.mjs';

function run(script, args) {
  const result = spawnSync(process.execPath, [join(root, 'node_modules', ...script), ...args], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!existsSync(join(root, 'libs/database/src/generated/prisma/client.ts'))) run(['..', 'apps', 'dev', 'prisma-generate.mjs'], []);
run(['typescript', 'bin', 'tsc'], ['-p', 'apps/dev/tsconfig.build.json']);
// tsc-alias reads the aliases and outDir of the base config (the build config only narrows inputs).
run(['tsc-alias', 'dist', 'bin', 'index.js'], ['-p', 'tsconfig.json']);
