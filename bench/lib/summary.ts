// The table `npm run bench` prints at the end: one line per figure the issue sets a target for,
// read from each benchmark's JSON (bench/results/<name>.json). A missing benchmark shows as "-".
import { printTable } from './table.js';

type Json = Record<string, any>;

const fmt = (value: unknown, digits = 0): string => (typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '-');
const met = (target: Json | undefined): string => (target === undefined ? '-' : target.met ? 'met' : 'NOT met');

export function summaryRows(results: Record<string, Json | undefined>): string[][] {
  const rows: string[][] = [];
  const rp = results['read-path'];
  if (rp) {
    const s = (key: string): Json | undefined => (rp.scenarios as Json[]).find((x) => x.key === key);
    for (const key of ['A-pk', 'A-rls', 'B', 'C-get', 'C-list', 'C-partner', 'C-partner-list']) {
      const x = s(key);
      if (x) rows.push([`read path ${x.label.replace(/\s+/g, ' ')}`, `${fmt(x.rps)} req/s, p50 ${fmt(x.p50Ms, 1)} ms, p99 ${fmt(x.p99Ms, 1)} ms${x.serverCpuMsPerRequest != null ? `, ${fmt(x.serverCpuMsPerRequest, 2)} CPU ms/req` : ''}`, '', '']);
    }
    const t = rp.targets as Json;
    rows.push(['read path C-get / B (req/s)', fmt(rp.ratios['C-get/B'].median, 2), '>= 0.6', met(t['C-get >= 0.6 x B'])]);
    rows.push(['read path C-get / A-pk, C-get / A-rls', `${fmt(rp.ratios['C-get/A-pk'].median, 2)}, ${fmt(rp.ratios['C-get/A-rls'].median, 2)}`, '', '']);
    if (rp.ratios['C-list/C-get CPU']) rows.push(['read path C-list / C-get (server CPU per request)', fmt(rp.ratios['C-list/C-get CPU'].median, 2), '<= 2', met(t['C-list CPU <= 2 x C-get'])]);
    for (const [rate, byKey] of Object.entries((rp.openLoop?.byRate ?? {}) as Record<string, Record<string, Json>>)) {
      for (const [key, o] of Object.entries(byKey)) {
        const target = key === 'C-get' ? (rate === '200' ? '< 15 ms' : rate === '400' ? '< 25 ms' : '') : '';
        const status = key === 'C-get' ? met(t[`open loop C-get p99 < ${rate === '200' ? 15 : 25} ms at ${rate} req/s`]) : '';
        rows.push([`open loop ${key} at ${rate} req/s: p99 (p50; achieved; CPU)`, `${fmt(o.p99Ms, 1)} ms (${fmt(o.p50Ms, 1)} ms; ${fmt(o.achievedRps)} req/s; ${fmt(o.serverCpuMsPerRequest, 2)} CPU ms/req)`, target, status]);
      }
    }
    for (const c of (rp.securityTax?.controls ?? []) as Json[]) rows.push([`security tax: ${c.control}`, `${fmt(c.costUs)} µs CPU per request`, '', '']);
    const p99Key = Object.keys(t).find((k) => k.startsWith('C-get p99'));
    if (p99Key) rows.push([`read path C-get p99 (${rp.settings.connections} connections)`, `${fmt(t[p99Key].value, 1)} ms`, '< 25 ms', met(t[p99Key])]);
  }
  const ex = results.export;
  if (ex) {
    rows.push([`export ${ex.summary.rows} invoices CSV / COPY`, `${fmt(ex.summary.exportMs)} ms / ${fmt(ex.summary.copyMs)} ms = ${fmt(ex.summary.exportOverCopy, 1)}x`, '<= 3x', met(ex.targets['export <= 3 x COPY'])]);
    rows.push(['export worker peak RSS (idle worker, growth)', `${fmt(ex.summary.workerPeakRssMiB, 1)} MiB (${fmt(ex.summary.workerRssWhenReadyMiB, 1)}, +${fmt(ex.summary.workerPeakGrowthMiB, 1)})`, '< 150 MB', met(ex.targets['worker peak RSS < 150 MB'])]);
  }
  const ep = results['export-pipeline'];
  if (ep) {
    rows.push([`export pipeline in process: COPY stream / bare COPY (paged read before)`, `${fmt(ep.summary.copyStreamOverBareCopy, 2)}x (${fmt(ep.summary.pagedOverBareCopy, 2)}x); CPU ${fmt(ep.summary.copyStreamCpuMs)} ms (${fmt(ep.summary.pagedCpuMs)} ms)`, '<= 3x', '']);
  }
  const wh = results['webhook-fanout'];
  if (wh) {
    rows.push([`webhook fan-out (${wh.summary.events} events x ${wh.summary.endpoints} endpoints, ${wh.summary.workers} worker)`, `${fmt(wh.summary.deliveriesPerSecond)} deliveries/s${wh.summary.complete ? '' : ' (incomplete)'}, ${fmt(wh.summary.workerCpuMsPerDelivery, 1)} worker CPU ms each`, '>= 1000/s', met(wh.targets['deliveries/s >= 1000'])]);
  }
  const rl = results['revocation-limits'];
  if (rl) {
    rows.push(['session revoked under load: accepted after revoke', String(rl.session.acceptedAfterRevoke), '0', met(rl.targets['session: accepted after revoke = 0'])]);
    rows.push(['API key revoked under load: accepted after revoke', String(rl.apiKey.acceptedAfterRevoke), '0', met(rl.targets['API key: accepted after revoke = 0'])]);
    rows.push([`rate limit, 2 instances: accepted / limit`, `${rl.limits.accepted} / ${rl.limits.limit} (${fmt(rl.limits.deviationPct, 2)} %)`, 'within 1 %', met(rl.targets['rate limit: accepted within 1 % of the limit'])]);
  }
  const tg = results['transaction-granularity'];
  if (tg) for (const c of tg.comparisons as Json[]) rows.push([`tx granularity per-request / per-call req/s (pause ${c.thinkMsBetweenReads} ms)`, fmt(c.perRequestOverPerCallRps.median, 2), '', '']);
  return rows;
}

export function printSummary(results: Record<string, Json | undefined>): void {
  printTable(['figure', 'measured', 'target', 'status'], summaryRows(results));
}
