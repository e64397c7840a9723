// bench/results/latest.json is written by more than one part of the bench (each benchmark's
// figures under `benchmarks`, and top-level keys the issue names: `export`, `webhooks`, and others
// such as `ratios` and `openLoop`). Every writer merges into what is there instead of replacing the
// file, so a subset run (BENCH_ONLY) or another writer never drops figures it did not produce.
import { readFile, writeFile } from 'node:fs/promises';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * `patch` merged into `base` two levels deep: a top-level object (e.g. `benchmarks`) keeps the
 * entries the patch does not name, and each entry it names (one benchmark's result, `export`) is
 * replaced whole, so no stale figure of an earlier run survives inside a fresh one.
 */
export function mergeJson(base: Json, patch: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(patch)) out[key] = isObject(value) && isObject(out[key]) ? { ...(out[key] as Json), ...value } : value;
  return out;
}

/** Merges `patch` into the JSON file at `path` (created when missing or unreadable). */
export async function mergeIntoFile(path: string, patch: Json): Promise<void> {
  let current: Json = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (isObject(parsed)) current = parsed;
  } catch {
    // No file yet (or a broken one from an interrupted run): start afresh.
  }
  await writeFile(path, `${JSON.stringify(mergeJson(current, patch), null, 2)}\n`);
}

/**
 * The issue's top-level figures for the export and the webhook fan-out, from the benchmarks'
 * own result files: `export` (time vs COPY, worker CPU and peak RSS beside the idle worker's) and
 * `webhooks` (deliveries/s on one worker, worker CPU per delivery).
 */
export function headlineFigures(results: Record<string, any>): Json {
  const out: Json = {};
  const ex = results.export;
  if (ex?.summary) {
    const s = ex.summary;
    out.export = {
      rows: s.rows,
      exportMs: s.exportMs,
      copyMs: s.copyMs,
      exportOverCopy: s.exportOverCopy,
      workerCpuMsPer1kRows: s.workerCpuMsPer1kRows,
      workerPeakRssMiB: s.workerPeakRssMiB,
      workerRssWhenReadyMiB: s.workerRssWhenReadyMiB,
      workerPeakGrowthMiB: s.workerPeakGrowthMiB,
      targets: ex.targets,
    };
  }
  const wh = results['webhook-fanout'];
  if (wh?.summary) {
    const s = wh.summary;
    out.webhooks = {
      events: s.events,
      endpoints: s.endpoints,
      workers: s.workers,
      deliveriesReceived: s.deliveriesReceived,
      complete: s.complete,
      deliveriesPerSecond: s.deliveriesPerSecond,
      deliveriesPerSecondFirstToLast: s.deliveriesPerSecondFirstToLast,
      workerCpuMsPerDelivery: s.workerCpuMsPerDelivery,
      signaturesInvalid: s.signaturesInvalid,
      targets: wh.targets,
    };
  }
  return out;
}
