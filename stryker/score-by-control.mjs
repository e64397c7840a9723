// Mutation score per file and per control, from the JSON report of the last `npm run test:mutation`
// (reports/mutation/mutation.json). A control's mutants are those inside the definitions its catalog
// entry names (test/security/support/controls.ts, `code: ['path#symbol', …]`), located with the
// TypeScript compiler API as test/security/controls-catalog.spec.ts does; a file that was not mutated
// is reported as outside the scope. Score = (killed + timeout) / (killed + timeout + survived +
// no coverage), as Stryker computes it; ignored (static) and compile-error mutants are not valid.
// Usage: node stryker/score-by-control.mjs [--markdown]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const report = JSON.parse(readFileSync(process.env.MUTATION_REPORT ?? join(root, 'reports', 'mutation', 'mutation.json'), 'utf8'));
const { CONTROLS } = await import(join(root, 'test', 'security', 'support', 'controls.ts'));
const markdown = process.argv.includes('--markdown');
const out = (line) => process.stdout.write(`${line}\n`);

const KILLED = new Set(['Killed', 'Timeout']);
const VALID = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);

function count(mutants) {
  const c = { total: mutants.length, killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, compileError: 0 };
  for (const m of mutants) {
    if (m.status === 'Killed') c.killed++;
    else if (m.status === 'Timeout') c.timeout++;
    else if (m.status === 'Survived') c.survived++;
    else if (m.status === 'NoCoverage') c.noCoverage++;
    else if (m.status === 'Ignored') c.ignored++;
    else if (m.status === 'CompileError') c.compileError++;
  }
  const valid = mutants.filter((m) => VALID.has(m.status)).length;
  c.score = valid === 0 ? null : (100 * mutants.filter((m) => KILLED.has(m.status)).length) / valid;
  return c;
}

/** Line range (1-based, inclusive) of `symbol` (`name` or `Class.member`) in a TypeScript file. */
function rangeOf(file, symbol) {
  const text = readFileSync(join(root, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const [top, member] = symbol.split('.');
  const lines = (node) => [source.getLineAndCharacterOfPosition(node.getStart()).line + 1, source.getLineAndCharacterOfPosition(node.getEnd()).line + 1];
  const nameOf = (node) => (node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name)) ? node.name.text : undefined);
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement)) {
      for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name) && d.name.text === top && !member) return lines(statement);
    } else if (nameOf(statement) === top) {
      if (!member) return lines(statement);
      for (const m of statement.members ?? []) if (nameOf(m) === member) return lines(m);
    }
    if (ts.isClassDeclaration(statement) && !member) {
      // `path#method` names a member of some class in the file.
      for (const m of statement.members) if (nameOf(m) === top) return lines(m);
    }
  }
  return undefined;
}

const files = Object.entries(report.files).map(([path, file]) => [path.replace(/^\.\//, ''), file.mutants]);
const fileRows = files.map(([path, mutants]) => ({ path, ...count(mutants) })).sort((a, b) => a.path.localeCompare(b.path));
const controlRows = [];
for (const [id, control] of Object.entries(CONTROLS)) {
  const mutants = [];
  const inScope = [];
  const outside = [];
  for (const entry of control.code) {
    const [path, symbol] = entry.split('#');
    const file = files.find(([p]) => p === path);
    if (!file || !path.endsWith('.ts')) {
      outside.push(entry);
      continue;
    }
    const range = rangeOf(path, symbol);
    if (!range) {
      outside.push(`${entry} (symbol not found)`);
      continue;
    }
    inScope.push(entry);
    for (const m of file[1]) if (m.location.start.line >= range[0] && m.location.start.line <= range[1] && !mutants.includes(m)) mutants.push(m);
  }
  if (inScope.length > 0) {
    const paths = [...new Set(inScope.map((e) => e.split('#')[0]))];
    const byFile = count(files.filter(([p]) => paths.includes(p)).flatMap(([, m]) => m));
    controlRows.push({ id, inScope, outside, ...count(mutants), fileScore: byFile.score, fileValid: byFile.killed + byFile.timeout + byFile.survived + byFile.noCoverage });
  }
}
const named = new Set(Object.values(CONTROLS).flatMap((c) => c.code.map((e) => e.split('#')[0])));
const unnamed = fileRows.filter((r) => !named.has(r.path));

const pct = (s) => (s === null ? 'n/a' : `${s.toFixed(1)} %`);
const all = count(files.flatMap(([, m]) => m));
if (markdown) {
  out('| File | Mutants | Killed | Timeout | Survived | No coverage | Ignored (static) | Compile errors | Score |');
  out('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of fileRows) out(`| \`${r.path}\` | ${r.total} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${r.ignored} | ${r.compileError} | ${pct(r.score)} |`);
  out(`| **all** | ${all.total} | ${all.killed} | ${all.timeout} | ${all.survived} | ${all.noCoverage} | ${all.ignored} | ${all.compileError} | **${pct(all.score)}** |`);
  out('\n| Control | Code in scope (`path#symbol`) | Valid mutants in those symbols | Killed + timeout | Survived | No coverage | Score (symbols) | Score (whole files) | Code of the control outside the scope |');
  out('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of controlRows) out(`| ${r.id} | ${r.inScope.map((e) => `\`${e}\``).join('<br>')} | ${r.killed + r.timeout + r.survived + r.noCoverage} | ${r.killed + r.timeout} | ${r.survived} | ${r.noCoverage} | ${pct(r.score)} | ${pct(r.fileScore)} (${r.fileValid}) | ${r.outside.map((e) => `\`${e}\``).join('<br>') || '—'} |`);
  out(`\nFiles in scope that no control's \`code\` names: ${unnamed.map((r) => `\`${r.path}\` (${pct(r.score)})`).join(', ') || 'none'}.`);
} else {
  for (const r of fileRows) out(`${pct(r.score).padStart(8)}  ${r.path}  (${r.total} mutants: ${r.killed} killed, ${r.timeout} timeout, ${r.survived} survived, ${r.noCoverage} no coverage, ${r.ignored} ignored, ${r.compileError} compile errors)`);
  out(`${pct(all.score).padStart(8)}  all files`);
  for (const r of controlRows) out(`${pct(r.score).padStart(8)}  ${r.id}  (${r.killed + r.timeout}/${r.killed + r.timeout + r.survived + r.noCoverage}; in scope: ${r.inScope.join(', ')})`);
}
