// `npm run security:report`: runs the security suite (`npm run test:security`), then writes the
// controls map (docs/controls.md) and the training report (docs/security-report.md and
// docs/security-report.html) from the control catalog (test/security/support/controls.ts), the
// test results (which tests carry which control tag) and the kill-switch outcomes
// (.data/security/kill-switch/*.json).
//
//   node apps/dev/security-report.mjs             run the suite, then write the documents
//   node apps/dev/security-report.mjs --write F   write the documents from an earlier run's
//                                                 Vitest JSON results F (no new run)
//   node apps/dev/security-report.mjs --check F   compare the documents a run (Vitest JSON
//                                                 results F) would write with the committed ones;
//                                                 used by `npm test` after the whole suite
//
// Both modes fail when a control has no tagged test that passed, no kill-switch scenario, or a
// scenario whose outcome is not "detected". The documents hold nothing that changes between runs
// (ids, tokens, times and random names are replaced by placeholders), so a fresh run reproduces the
// committed copies byte for byte.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from './lib/paths.mjs';

const KILL_SWITCH_DIR = join(root, '.data', 'security', 'kill-switch');
const OUTPUTS = {
  map: join(root, 'docs', 'controls.md'),
  markdown: join(root, 'docs', 'security-report.md'),
  html: join(root, 'docs', 'security-report.html'),
};

// Node 24 runs the catalog's TypeScript directly (type stripping): the catalog is test metadata and
// is not part of the compiled application.
const { CONTROLS, CONTROL_IDS, OWASP_API, ASVS, controlTagsOf } = await import(pathToFileURL(join(root, 'test', 'security', 'support', 'controls.ts')).href);

// ---------------------------------------------------------------------------------------------
// Inputs

/** Tagged tests of a run: control id → [{ file, name, status }]. */
function taggedTests(resultsFile) {
  const report = JSON.parse(readFileSync(resultsFile, 'utf8'));
  const byControl = new Map(CONTROL_IDS.map((id) => [id, []]));
  for (const file of report.testResults) {
    const path = relative(root, file.name);
    for (const test of file.assertionResults) {
      // The fuzz seed is part of its tests' titles (FUZZ_SEED overrides it); the map does not depend on it.
      const name = test.fullName.replace(/FUZZ_SEED=\d+/g, 'FUZZ_SEED=<seed>');
      for (const id of new Set(controlTagsOf(test.fullName))) byControl.get(id).push({ file: path, name, status: test.status });
    }
  }
  for (const list of byControl.values()) list.sort((a, b) => (a.file === b.file ? a.name.localeCompare(b.name) : a.file.localeCompare(b.file)));
  return byControl;
}

/** Kill-switch records of the run: control id → [record], sorted by attack. */
function killSwitches() {
  const byControl = new Map(CONTROL_IDS.map((id) => [id, []]));
  if (!existsSync(KILL_SWITCH_DIR)) return byControl;
  for (const file of readdirSync(KILL_SWITCH_DIR).filter((f) => f.endsWith('.json'))) {
    const record = JSON.parse(readFileSync(join(KILL_SWITCH_DIR, file), 'utf8'));
    if (byControl.has(record.control)) byControl.get(record.control).push(record);
  }
  for (const list of byControl.values()) list.sort((a, b) => a.attack.localeCompare(b.attack));
  return byControl;
}

/** What keeps the release from shipping, one line each (empty when every control is proven). */
function gaps(tests, switches) {
  const problems = [];
  for (const id of CONTROL_IDS) {
    const passed = tests.get(id).filter((t) => t.status === 'passed');
    if (passed.length === 0) problems.push(`${id}: no passing test is tagged with this control`);
    const records = switches.get(id);
    if (records.length === 0) problems.push(`${id}: no kill-switch outcome (scenario missing or not run)`);
    for (const r of records) if (r.outcome !== 'detected') problems.push(`${id}: kill switch "${r.attack}" — ${r.outcome}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Normalisation: everything that differs between runs becomes a stable placeholder.

/** The `alg` of a JWT's header, which the training report keeps visible (alg "none" is the lesson). */
function jwtAlg(jwt) {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8')).alg ?? '?';
  } catch {
    return '?';
  }
}

function normaliser() {
  const seen = new Map();
  const stable = (kind, value) => {
    const key = `${kind}:${value}`;
    if (!seen.has(key)) seen.set(key, `<${kind}-${[...seen.keys()].filter((k) => k.startsWith(`${kind}:`)).length + 1}>`);
    return seen.get(key);
  };
  const text = (s) =>
    s
      .replace(/\brt\.[0-9a-f-]{36}\.[A-Za-z0-9_-]+/g, (rt) => stable('refresh-token', rt))
      .replace(/\bbt_cs_[A-Za-z0-9_-]+/g, (cs) => stable('client-secret', cs))
      .replace(/\bbt_inv_[A-Za-z0-9_-]+/g, (token) => stable('invitation-token', token))
      .replace(/\bmsg_[A-Za-z0-9-]+/g, (id) => stable('msg-id', id))
      .replace(/\b[a-z]{2,8}_[0-9a-f]{8,}\b/g, (id) => stable(id.slice(0, id.indexOf('_')), id))
      .replace(/\b[A-Z]{2,5}-[0-9a-f]{6,}\b/g, (number) => stable('number', number))
      .replace(/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, (jwt) => `${stable('jwt', jwt).slice(0, -1)} alg=${jwtAlg(jwt)}>`)
      .replace(/\bbt_(live|test)_[a-z2-7]{12}_[A-Za-z0-9_-]+/g, (key, env) => `${stable(`api-key-${env}`, key)}`)
      .replace(/\bwhsec_[A-Za-z0-9+/=_-]+/g, (secret) => stable('webhook-secret', secret))
      .replace(/\bpw-[A-Za-z0-9_-]{8,}/g, (pw) => stable('password', pw))
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, (uuid) => stable('uuid', uuid.toLowerCase()))
      .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, '<timestamp>')
      .replace(/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, (ip) => (ip === '127.0.0.1' || ip === '0.0.0.0' || ip.startsWith('169.254.') ? ip : stable('ip', ip)))
      .replace(/\b2001:db8:[0-9a-f:]+/gi, (ip) => stable('ip', ip))
      .replace(/\b1[6-9]\d{8}\b/g, '<unix-time>')
      .replace(/([?&]sig)=[A-Za-z0-9_-]+/g, '$1=<signature>')
      .replace(/\b[0-9a-f]{8,}\b/g, (hex) => stable('hex', hex))
      .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,7}\b/g, (hex) => stable('hex', hex))
      .replace(/\b(reset|t|r)=\d+/g, '$1=<n>');
  const value = (v, key) => {
    if (typeof v === 'string') {
      if (key === 'requestId') return '<request-id>';
      if (key === 'nextCursor') return '<cursor>';
      // Signatures and nonces are random per request, and a Content-Digest covers a body with random
      // values (an invoice number); the report shows that they are there.
      if (/nonce|signature|^sig$|digest/i.test(key ?? '')) return `<${key.toLowerCase().replace(/^x-benteng-/, '')}>`;
      // A spoofed X-Forwarded-For is a new random address for every request (which one a run shows
      // last, and whether it equals another shown address, differs between runs).
      if (/^x-forwarded-for$/i.test(key ?? '')) return '<another address each request>';
      return text(v);
    }
    if (Array.isArray(v)) return v.map((item) => value(item));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, value(item, k)]));
    if (typeof v === 'number' && /^(retry-after|latencyMs|durationMs|iat|exp)$/i.test(key ?? '')) return '<n>';
    return v;
  };
  return { value, text };
}

// ---------------------------------------------------------------------------------------------
// Documents

const md = (s) => String(s).replace(/\|/g, '\\|');
const codeLink = (location) => {
  const [path, symbol] = location.split('#');
  return `[\`${symbol}\`](../${path})`;
};
const fileCounts = (list) => {
  const counts = new Map();
  for (const t of list) counts.set(t.file, (counts.get(t.file) ?? 0) + 1);
  return [...counts.entries()];
};
const outcomeCell = (records) => {
  if (records.length === 0) return 'missing';
  const detected = records.filter((r) => r.outcome === 'detected').length;
  return detected === records.length ? `detected (${detected}/${records.length})` : `**${records.length - detected} not detected** (${detected}/${records.length})`;
};

function controlsMap(tests, switches) {
  const lines = [];
  const totalTests = new Set([...tests.values()].flat().map((t) => `${t.file}|${t.name}`)).size;
  const totalSwitches = [...switches.values()].flat().length;
  lines.push(
    '# Controls map',
    '',
    'Generated by `npm run security:report` from the control catalog (`test/security/support/controls.ts`), the tests tagged',
    'with each control and the kill-switch outcomes of the run. Do not edit by hand: `npm test` fails when this file differs',
    'from what a fresh run writes.',
    '',
    `${CONTROL_IDS.length} controls, ${totalTests} tagged tests, ${totalSwitches} kill-switch scenarios. A kill switch is *detected*`,
    'when its attack is blocked by the intact system and succeeds once that one control is replaced by a no-op.',
    'The training report with every attack request and both responses is [security-report.md](security-report.md)',
    '([HTML](security-report.html)); the threats per trust boundary are in [threat-model.md](threat-model.md).',
    '',
    '## OWASP API Security Top 10 (2023)',
    '',
    '| Item | Controls |',
    '|---|---|',
  );
  for (const [item, name] of Object.entries(OWASP_API)) {
    const ids = CONTROL_IDS.filter((id) => CONTROLS[id].owasp.includes(item));
    lines.push(`| ${item} ${name} | ${ids.length ? ids.map((id) => `[${id}](#${id.toLowerCase()})`).join(', ') : '— (no API surface for this item)'} |`);
  }
  lines.push('', '## ASVS 5.0 chapters', '', '| Chapter | Controls |', '|---|---|');
  for (const [chapter, name] of Object.entries(ASVS)) {
    const ids = CONTROL_IDS.filter((id) => CONTROLS[id].asvs.includes(chapter));
    if (ids.length) lines.push(`| ${chapter} ${name} | ${ids.map((id) => `[${id}](#${id.toLowerCase()})`).join(', ')} |`);
  }
  lines.push('', '## Controls', '', '| Control | OWASP | ASVS 5.0 | Code | Tests | Kill switch |', '|---|---|---|---|---|---|');
  for (const id of CONTROL_IDS) {
    const c = CONTROLS[id];
    lines.push(`| [${id}](#${id.toLowerCase()}) | ${c.owasp.join(', ')} | ${c.asvs.join(', ')} | ${c.code.map(codeLink).join('<br>')} | ${tests.get(id).length} | ${outcomeCell(switches.get(id))} |`);
  }
  for (const id of CONTROL_IDS) {
    const c = CONTROLS[id];
    lines.push('', `### ${id}`, '', `**${md(c.title)}.** ${c.threat}`, '');
    lines.push(`- OWASP: ${c.owasp.map((item) => `${item} ${OWASP_API[item]}`).join('; ')}`);
    lines.push(`- ASVS 5.0: ${c.asvs.map((ch) => `${ch} ${ASVS[ch]}`).join('; ')}`);
    lines.push(`- Code: ${c.code.map(codeLink).join(', ')}`);
    lines.push('- Kill switches:');
    for (const r of switches.get(id)) lines.push(`  - ${r.attack} — without the control: ${r.removal} → **${r.outcome}**`);
    lines.push(`- Tests (${tests.get(id).length}):`);
    for (const [file, count] of fileCounts(tests.get(id))) {
      const names = tests.get(id).filter((t) => t.file === file);
      lines.push(`  - [\`${file}\`](../${file}): ${count}`);
      for (const t of names.slice(0, 4)) lines.push(`    - ${md(t.name)}`);
      if (names.length > 4) lines.push(`    - … and ${names.length - 4} more`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function exchangeText(n, ex) {
  const req = ex.request;
  const out = [`${req.method} ${n.text(req.url)}`];
  for (const [k, v] of Object.entries(n.value(req.headers ?? {}))) out.push(`${k}: ${v}`);
  if (req.body !== undefined) out.push('', typeof req.body === 'string' ? n.text(req.body) : JSON.stringify(n.value(req.body), null, 2));
  const res = ex.response;
  const back = [`HTTP ${res.status}`];
  for (const [k, v] of Object.entries(n.value(res.headers ?? {}))) back.push(`${k}: ${v}`);
  if (res.body !== undefined) back.push('', typeof res.body === 'string' ? n.text(res.body) : JSON.stringify(n.value(res.body), null, 2));
  return { request: out.join('\n'), response: back.join('\n') };
}

/** The training report's content as a neutral structure, rendered to Markdown and HTML. */
function trainingSections(switches) {
  return CONTROL_IDS.map((id) => {
    const c = CONTROLS[id];
    const scenarios = switches.get(id).map((r) => {
      const n = normaliser();
      const pick = (result) => {
        if (!result) return undefined;
        const first = result.exchanges?.[0];
        return { observed: n.text(result.observed), ...(first ? exchangeText(n, first) : {}) };
      };
      return { attack: r.attack, removal: r.removal, outcome: r.outcome, withControl: pick(r.withControl), withoutControl: pick(r.withoutControl) };
    });
    return { id, control: c, scenarios };
  });
}

function trainingMarkdown(sections) {
  const lines = [
    '# Benteng security training report',
    '',
    'Generated by `npm run security:report` from the kill-switch runs of the security suite. For every control: the threat,',
    'the attack as it was sent, the answer of the intact system, and the answer of the same system with only that control',
    'replaced by a no-op. Identifiers, tokens, times and random names are replaced by placeholders (`<uuid-1>`, `<jwt-1>`, …).',
    'The map of controls to code and tests is [controls.md](controls.md).',
    '',
    '## Contents',
    '',
    ...sections.map((s) => `- [${s.id}](#${s.id.toLowerCase()}): ${md(s.control.title)}`),
  ];
  for (const s of sections) {
    lines.push('', `## ${s.id}`, '', `**${md(s.control.title)}.**`, '', `*Threat.* ${s.control.threat}`, '', `*OWASP* ${s.control.owasp.map((i) => `${i} ${OWASP_API[i]}`).join('; ')} · *ASVS 5.0* ${s.control.asvs.map((ch) => `${ch} ${ASVS[ch]}`).join('; ')}`);
    for (const sc of s.scenarios) {
      lines.push('', `### Attack: ${sc.attack}`, '', `Control removed for the proof: ${sc.removal}. Outcome: **${sc.outcome}**.`);
      for (const [label, run] of [
        ['With the control', sc.withControl],
        ['Without the control', sc.withoutControl],
      ]) {
        if (!run) continue;
        lines.push('', `**${label}:** ${run.observed}`);
        if (run.request) lines.push('', '```http', run.request, '```', '', '```http', run.response, '```');
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function trainingHtml(sections) {
  const body = [];
  body.push('<h1>Benteng security training report</h1>');
  body.push('<p>For every control: the threat, the attack as it was sent, the answer of the intact system, and the answer of the same system with only that control replaced by a no-op. Generated by <code>npm run security:report</code>; identifiers, tokens, times and random names are placeholders.</p>');
  body.push('<nav><ol>', ...sections.map((s) => `<li><a href="#${esc(s.id.toLowerCase())}">${esc(s.id)}</a>: ${esc(s.control.title)}</li>`), '</ol></nav>');
  for (const s of sections) {
    body.push(`<section id="${esc(s.id.toLowerCase())}"><h2>${esc(s.id)}</h2>`);
    body.push(`<p><strong>${esc(s.control.title)}.</strong></p><p class="threat"><em>Threat.</em> ${esc(s.control.threat)}</p>`);
    body.push(`<p class="tags">${s.control.owasp.map((i) => `<span>${esc(i)} ${esc(OWASP_API[i])}</span>`).join(' ')} ${s.control.asvs.map((ch) => `<span>ASVS ${esc(ch)} ${esc(ASVS[ch])}</span>`).join(' ')}</p>`);
    for (const sc of s.scenarios) {
      body.push(`<article><h3>Attack: ${esc(sc.attack)}</h3><p>Control removed for the proof: ${esc(sc.removal)}. Outcome: <strong class="${sc.outcome === 'detected' ? 'ok' : 'bad'}">${esc(sc.outcome)}</strong>.</p><div class="runs">`);
      for (const [label, run, cls] of [
        ['With the control', sc.withControl, 'with'],
        ['Without the control', sc.withoutControl, 'without'],
      ]) {
        if (!run) continue;
        body.push(`<div class="run ${cls}"><h4>${label}</h4><p>${esc(run.observed)}</p>`);
        if (run.request) body.push(`<pre class="request">${esc(run.request)}</pre><pre class="response">${esc(run.response)}</pre>`);
        body.push('</div>');
      }
      body.push('</div></article>');
    }
    body.push('</section>');
  }
  const style = [
    'body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#1d2330}',
    'h2{border-bottom:2px solid #1d2330;padding-bottom:.2rem;margin-top:3rem}',
    '.tags span{display:inline-block;background:#eef1f6;border-radius:4px;padding:0 .4rem;margin:0 .2rem .2rem 0;font-size:.85rem}',
    '.runs{display:grid;grid-template-columns:1fr 1fr;gap:1rem}',
    '.run{border-radius:6px;padding:.5rem .8rem}.run.with{background:#eef8f0}.run.without{background:#fbeeee}',
    'pre{white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid #d6dae2;border-radius:4px;padding:.5rem;font-size:.8rem;max-height:28rem;overflow:auto}',
    '.ok{color:#1b7a33}.bad{color:#b3261e}',
    '@media (max-width:800px){.runs{grid-template-columns:1fr}}',
  ].join('\n');
  return `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>Benteng security training report</title>\n<style>\n${style}\n</style>\n</head>\n<body>\n${body.join('\n')}\n</body>\n</html>\n`;
}

function documents(resultsFile) {
  const tests = taggedTests(resultsFile);
  const switches = killSwitches();
  const sections = trainingSections(switches);
  return {
    problems: gaps(tests, switches),
    files: { [OUTPUTS.map]: controlsMap(tests, switches), [OUTPUTS.markdown]: trainingMarkdown(sections), [OUTPUTS.html]: trainingHtml(sections) },
  };
}

// ---------------------------------------------------------------------------------------------

const args = process.argv.slice(2);
if (args[0] === '--check') {
  const { problems, files } = documents(args[1]);
  const stale = Object.entries(files)
    .filter(([path, content]) => !existsSync(path) || readFileSync(path, 'utf8') !== content)
    .map(([path]) => relative(root, path));
  for (const p of problems) process.stderr.write(`security: ${p}\n`);
  if (stale.length) process.stderr.write(`security: ${stale.join(', ')} differ from what this run writes; run \`npm run security:report\` and commit the result\n`);
  if (problems.length || stale.length) process.exit(1);
  process.stdout.write(`security: ${CONTROL_IDS.length} controls proven (tagged tests passed, every kill switch detected); controls map and training report are current\n`);
} else {
  const given = args[0] === '--write' ? args[1] : undefined;
  const results = given ?? join(root, '.data', 'vitest-results.json');
  const run = given ? { status: 0 } : spawnSync(process.execPath, [join(root, 'apps', 'dev', 'test.mjs'), '--security'], { cwd: root, stdio: 'inherit' });
  if (!existsSync(results)) process.exit(run.status ?? 1);
  const { problems, files } = documents(results);
  for (const [path, content] of Object.entries(files)) writeFileSync(path, content);
  process.stdout.write(`security: wrote ${Object.keys(files).map((p) => relative(root, p)).join(', ')}\n`);
  for (const p of problems) process.stderr.write(`security: ${p}\n`);
  if (problems.length || run.status !== 0) process.exit(1);
}
