// `npm run lab -- <CONTROL-ID>` and `npm run lab -- --list`: runs apps/lab/src/lab.ts from source
// through Vite's module runner, the transform the test suite (Vitest) runs the same sources with,
// so the lab never needs a build and never enters dist/ (apps/dev/tsconfig.build.json excludes
// apps/lab) or the image (the Dockerfile copies dist/, node_modules, prisma and package.json only).
import { fileURLToPath } from 'node:url';
import { loadDotEnv } from '../dev/lib/env.mjs';

if (process.env.NODE_ENV === 'production') {
  process.stderr.write('[lab] refusing to start: the training lab removes a security control on purpose and never runs with NODE_ENV=production\n');
  process.exit(2);
}
loadDotEnv();
const root = fileURLToPath(new URL('../..', import.meta.url));
const { createServer, createServerModuleRunner } = await import('vite');
const server = await createServer({
  configFile: false,
  root,
  logLevel: 'error',
  resolve: { tsconfigPaths: true },
  server: { middlewareMode: true, hmr: false, ws: false },
  appType: 'custom',
});
const runner = createServerModuleRunner(server.environments.ssr, { hmr: false });
await runner.import('/apps/lab/src/lab.ts');
