import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '@benteng/database';

/**
 * The repository's secret scan, run as `npm run lint:secrets` runs it: the real secretlint CLI
 * (node_modules/secretlint/bin/secretlint.js, on this Node), its recommended preset and the
 * repository's .secretlintrc.json / .secretlintignore.
 */
export interface ScanResult {
  status: number | null;
  output: string;
}

const root = projectRoot();
const cli = join(root, 'node_modules', 'secretlint', 'bin', 'secretlint.js');

/** `secretlint <args>` in `cwd`, with the repository's configuration unless `args` says otherwise. */
export function secretlint(cwd: string, args: readonly string[]): ScanResult {
  const result = spawnSync(process.execPath, [cli, '--no-color', '--no-terminalLink', ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * A scratch copy of the scan's setup (the two configuration files) with `files` planted in it,
 * scanned with `"**\/*"` as the npm script does. `rules` replaces .secretlintrc.json's content (the
 * kill switch: a configuration without rules).
 */
export function scanPlanted(files: Record<string, string>, rules?: string): ScanResult {
  const dir = mkdtempSync(join(tmpdir(), 'benteng-secret-scan-'));
  try {
    cpSync(join(root, '.secretlintrc.json'), join(dir, '.secretlintrc.json'));
    cpSync(join(root, '.secretlintignore'), join(dir, '.secretlintignore'));
    if (rules !== undefined) writeFileSync(join(dir, '.secretlintrc.json'), rules);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return secretlint(dir, ['**/*']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
