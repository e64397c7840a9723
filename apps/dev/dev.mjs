// `npm run dev`: `npm start` (apps/dev/lib/stack.mjs: .env, build, PostgreSQL, Redis, migrations,
// seed, API, worker) plus watch mode. `tsc --watch` recompiles changed sources into dist/
// incrementally; after each compilation without errors the path aliases are rewritten (as
// apps/dev/build.mjs does) and the API and the worker are restarted. A compilation with errors
// leaves the running processes alone. Ctrl-C stops everything it started.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './lib/paths.mjs';
import { printBanner, prepareStack, reporter, spawnEntry, terminate, waitReady } from './lib/stack.mjs';

const { log } = reporter('dev');
const stack = await prepareStack(reporter('dev'));

const ENTRIES = { api: 'apps/api/src/main.js', worker: 'apps/worker/src/main.js' };
const children = new Map();
let stopping = false;
let restarting = false;

function launch(name) {
  const child = spawnEntry(stack.env, ENTRIES[name]);
  // A crash is not the end of a dev session: the next good compilation starts it again.
  child.on('exit', (code, signal) => {
    if (!stopping && !restarting && children.get(name) === child) log(`${name} exited (${signal ?? code}); waiting for a change to restart it`);
  });
  children.set(name, child);
}

async function restart(reason) {
  restarting = true;
  log(`${reason}: restarting the API and the worker`);
  await Promise.all([...children.values()].map(terminate));
  restarting = false;
  if (stopping) return;
  for (const name of Object.keys(ENTRIES)) launch(name);
  if (await waitReady(stack.config, () => stopping || restarting)) log('restarted; the API is ready');
}

// The first compilation of the watcher checks what the build above already emitted; every later
// one follows a change.
let compilations = 0;
let queue = Promise.resolve();
const tsc = spawn(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'apps/dev/tsconfig.build.json', '--watch', '--preserveWatchOutput'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});
let pending = '';
tsc.stdout.on('data', (chunk) => {
  pending += chunk.toString();
  const lines = pending.split('\n');
  pending = lines.pop();
  for (const line of lines) {
    const found = /Found (\d+) errors?\. Watching for file changes/.exec(line);
    if (!found) {
      // Diagnostics and "File change detected" lines, as tsc writes them.
      if (line.trim() && !/Starting compilation in watch mode/.test(line)) process.stdout.write(`[dev] tsc ${line}\n`);
      continue;
    }
    compilations += 1;
    const alias = spawnSync(process.execPath, [join(root, 'node_modules', 'tsc-alias', 'dist', 'bin', 'index.js'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
    if (compilations === 1) log('watching apps/, libs/ and prisma/ for changes');
    if (compilations === 1 || stopping) continue;
    if (Number(found[1]) > 0 || alias.status !== 0) log(`compilation failed (${found[1]} error(s)); the running API and worker are unchanged`);
    // One restart at a time: a save during a restart queues another one after it.
    else queue = queue.then(() => restart('source changed'));
  }
});
tsc.on('exit', (code) => {
  if (!stopping) {
    process.stderr.write(`[dev] tsc --watch exited (${code}); stopping\n`);
    void stop(1);
  }
});

async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  tsc.kill('SIGTERM');
  await Promise.all([...children.values()].map(terminate));
  await stack.localPostgres?.stop();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

launch('api');
launch('worker');
if (await waitReady(stack.config, () => stopping)) printBanner(stack, 'Watching apps/, libs/ and prisma/: a change recompiles and restarts the API and the worker. Ctrl-C stops everything.');
else if (!stopping) log('the API did not become ready within 60 s; fix the code and save, or Ctrl-C');
