import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway self-signed P-256 certificate for `subject` (with the OpenSSL `-addext` values given,
 * e.g. `subjectAltName=IP:127.0.0.1`), valid for a day, made with the openssl CLI; undefined where
 * there is none: the tests that need one skip then, and under `CI=true` a skipped test fails the suite.
 */
export function selfSignedCertificate(subject: string, extensions: string[] = []): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'benteng-cert-'));
  try {
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${subject}`];
    for (const extension of extensions) args.push('-addext', extension);
    execFileSync('openssl', [...args, '-keyout', key, '-out', cert], { stdio: 'ignore' });
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
