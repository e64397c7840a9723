import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

/** Debian's Chromium, when installed (.ci/run installs it; under CI=true a skipped test fails the run). */
export function findChromium(): string | undefined {
  const candidates = ['/usr/bin/chromium', ...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean).flatMap((dir) => [join(dir, 'chromium'), join(dir, 'chromium-browser')])];
  return candidates.find((path) => existsSync(path));
}

/**
 * Loads `url` in headless Chromium with a fresh profile and no background networking (this
 * machine has no internet), lets scripts run for `budgetMs` of virtual time, and returns the
 * rendered DOM and the browser's console log (CSP violations appear there as "Refused to …").
 */
export async function renderPage(chromium: string, url: string, budgetMs = 10_000): Promise<{ dom: string; console: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'benteng-chromium-'));
  try {
    const { stdout, stderr } = await promisify(execFile)(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--enable-logging=stderr',
        '--v=0',
        `--user-data-dir=${profile}`,
        `--virtual-time-budget=${budgetMs}`,
        '--dump-dom',
        url,
      ],
      { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
    );
    return { dom: stdout, console: stderr };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
