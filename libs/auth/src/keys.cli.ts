// `npm run keys:generate`: prints a new Ed25519 signing key for AUTH_SIGNING_KEYS.
//
// Rotation with overlap: put the new key FIRST in the array (it signs from the next deploy on) and
// keep the old one after it (it keeps verifying). Remove the old key once ACCESS_TOKEN_TTL_S has
// passed since the deploy: no token it signed can still be valid.
import { generateSigningJwk } from './signing-keys.js';

const key = await generateSigningJwk();
process.stdout.write(`${JSON.stringify([key])}\n`);
process.stderr.write(
  `Generated signing key ${key.kid}. Keep it secret (it contains the private part "d").\n` +
    'New deployment: AUTH_SIGNING_KEYS=<the line above>.\n' +
    'Rotation: put this key first in your existing AUTH_SIGNING_KEYS array and keep the old key after it until ACCESS_TOKEN_TTL_S has passed.\n',
);
