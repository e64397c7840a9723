// `npm start`: the demo. Loads .env, builds, provides PostgreSQL (DATABASE_URL, or an embedded server
// with its data under .data/pg), checks Redis, migrates, seeds, starts the API and the worker, waits
// until the API is ready and prints how to use it (apps/dev/lib/stack.mjs, shared with `npm run dev`).
// Ctrl-C stops everything it started.
import { printBanner, prepareStack, reporter, spawnEntry, terminate, waitReady } from './lib/stack.mjs';

const stack = await prepareStack(reporter('start'));

const children = [];
function launch(name, entry) {
  const child = spawnEntry(stack.env, entry);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`[start] ${name} exited (${signal ?? code}); stopping\n`);
      void stop(1);
    }
  });
  children.push(child);
}

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  await Promise.all(children.map(terminate));
  await stack.localPostgres?.stop();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

launch('api', 'apps/api/src/main.js');
launch('worker', 'apps/worker/src/main.js');

if (await waitReady(stack.config, () => stopping)) printBanner(stack, 'Ctrl-C stops the API, the worker and the embedded database.');
else if (!stopping) {
  process.stderr.write('[start] the API did not become ready within 60 s\n');
  await stop(1);
}
