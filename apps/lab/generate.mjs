// `npm run training:generate`: rewrites docs/training/ from test/security/training/ (the exercises,
// the kill-switch scenarios they follow and the controls catalog) by running
// test/security/training-docs.spec.ts with TRAINING_WRITE=1; without it that spec only compares.
// Needs what the security test project needs (DATABASE_URL, REDIS_URL), like `npm run test:security`.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const result = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'test/vitest.config.ts', 'test/security/training-docs.spec.ts'], {
  cwd: root,
  env: { ...process.env, TRAINING_WRITE: '1' },
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
