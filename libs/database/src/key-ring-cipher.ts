import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Keyring } from '@benteng/config';

/**
 * AES-256-GCM under the key ring's root key (KEY_RING_ROOT_KEYS): `iv (12) | tag (16) | ciphertext`.
 * The family and kid are the additional data, so a row's material moved to another row (another
 * kid, another family) does not decrypt.
 */
export function sealKeyMaterial(root: Keyring, family: string, kid: string, plaintext: Buffer): { rootKid: string; material: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', root.active.key, iv);
  cipher.setAAD(Buffer.from(`key-ring\0${family}\0${kid}`, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { rootKid: root.active.kid, material: Buffer.concat([iv, cipher.getAuthTag(), ciphertext]) };
}

/** The plaintext, or undefined when the root key is unknown or the material was altered or moved. */
export function openKeyMaterial(root: Keyring, family: string, kid: string, rootKid: string, material: Buffer): Buffer | undefined {
  const key = root.find(rootKid);
  if (!key || material.length < 29) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, material.subarray(0, 12));
    decipher.setAAD(Buffer.from(`key-ring\0${family}\0${kid}`, 'utf8'));
    decipher.setAuthTag(material.subarray(12, 28));
    return Buffer.concat([decipher.update(material.subarray(28)), decipher.final()]);
  } catch {
    return undefined;
  }
}
