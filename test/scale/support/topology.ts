import { readFileSync } from 'node:fs';
import { freePort } from '../../support/net.js';
import { API_ENTRY, startCompiled, startWorker, type WorkerProcess } from '../../support/worker.js';
import { until } from './wait.js';

/**
 * The processes of the topology spec (test/scale/topology.scale.ts): compiled API instances on
 * fixed free ports (so one can be killed and started again where HAProxy expects it) and compiled
 * workers, each a real `node dist/…/main.js` with the test process's environment plus `env`.
 */
export interface ApiInstance {
  name: string;
  port: number;
  /** http://127.0.0.1:<port>: the instance directly, bypassing the balancer. */
  base: string;
  proc: WorkerProcess;
  /** SIGKILL (a crash: no graceful shutdown, in-flight requests cut). */
  kill(): Promise<void>;
  /** A new process on the same port, resolved once /health/ready answers 200. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The process's id, for CPU accounting (/proc/<pid>/stat). */
  pid(): number;
}

async function loopbackPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port !== 2024) return port;
  }
}

export async function readyStatus(base: string): Promise<number> {
  try {
    const res = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(3_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

export async function startApi(name: string, env: Record<string, string>): Promise<ApiInstance> {
  const [port, internalPort] = [await loopbackPort(), await loopbackPort()];
  const base = `http://127.0.0.1:${port}`;
  let proc: WorkerProcess | undefined;
  let pid = 0;
  const instance: ApiInstance = {
    name,
    port,
    base,
    get proc() {
      return proc!;
    },
    async start() {
      proc = startCompiled(API_ENTRY, { ...env, HOST: '127.0.0.1', PORT: String(port), INTERNAL_HOST: '127.0.0.1', INTERNAL_PORT: String(internalPort) });
      const started = proc;
      await until(
        async () => {
          if (await Promise.race([started.exit.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 0))])) throw new Error(`${name} exited:\n${started.output().slice(-4000)}`);
          return (await readyStatus(base)) === 200;
        },
        `${name} to be ready`,
        60_000,
        200,
      );
      pid = started.pid;
    },
    async kill() {
      if (!proc) return;
      proc.kill('SIGKILL');
      await proc.exit;
    },
    async stop() {
      if (proc) await proc.stop();
    },
    pid: () => pid,
  };
  await instance.start();
  return instance;
}

export async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const worker = startWorker(env);
  await worker.waitFor('worker ready', 60_000);
  return worker;
}

/** User + system CPU time of a process so far, in milliseconds (/proc/<pid>/stat, clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is index 0, so utime (14th field) is index 11, stime index 12.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
