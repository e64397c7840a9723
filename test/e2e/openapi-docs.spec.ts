import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, type TestApi } from '../support/api.js';

/**
 * The docs page renders in a real browser under its own Content-Security-Policy: headless
 * Chromium loads /v1/docs from the app, runs swagger-ui (served from the package, no CDN) and the
 * rendered DOM lists the invoice operations. .ci/run installs Chromium, so CI always runs this;
 * elsewhere it is skipped, saying so, when no Chromium is installed.
 */
function findChromium(): string | undefined {
  const candidates = ['/usr/bin/chromium', ...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean).flatMap((dir) => [join(dir, 'chromium'), join(dir, 'chromium-browser')])];
  return candidates.find((path) => existsSync(path));
}

const chromium = findChromium();
if (!chromium) console.warn('[openapi-docs] skipped: no Chromium found (/usr/bin/chromium or chromium on PATH); .ci/run installs it.');

describe.skipIf(!chromium)('GET /v1/docs in headless Chromium', () => {
  let api: TestApi;
  let base: string;
  let profile: string;

  beforeAll(async () => {
    api = await buildApi();
    await api.app.listen(0, '127.0.0.1');
    const address = api.app.getHttpServer().address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
    profile = mkdtempSync(join(tmpdir(), 'benteng-chromium-'));
  });
  afterAll(async () => {
    await api?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('renders the document and lists the invoice operations', async () => {
    const { stdout } = await promisify(execFile)(
      chromium!,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        '--virtual-time-budget=10000',
        '--dump-dom',
        `${base}/v1/docs`,
      ],
      { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
    );
    // swagger-ui rendered the spec: its operation blocks, with paths and methods, are in the DOM.
    expect(stdout).toContain('opblock');
    expect(stdout).toContain('/v1/invoices');
    expect(stdout).toContain('/v1/invoices/{id}/issue');
    expect(stdout).toMatch(/opblock-summary-method[^>]*>\s*POST/);
    expect(stdout).toContain('Benteng public API');
  }, 90_000);
});
