import { Injectable } from '@nestjs/common';
import { hash, verify } from '@node-rs/argon2';

/**
 * argon2id with the OWASP Password Storage Cheat Sheet parameters (19 MiB, 2 iterations, 1 lane).
 * The encoded hash carries its parameters, so raising them later still verifies old hashes.
 */
export const ARGON2_OPTIONS = {
  // Algorithm.Argon2id; @node-rs/argon2 declares it as a const enum, which isolatedModules forbids.
  algorithm: 2,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(encoded: string, password: string): Promise<boolean> {
  try {
    return await verify(encoded, password);
  } catch {
    // A malformed stored hash is a failed verification, not a crash that tells the caller more.
    return false;
  }
}

/**
 * Injectable form, so login can verify exactly once per attempt, whether or not the account
 * exists (tests count the calls). `dummyHash` is verified when there is no real hash: the unknown
 * email path costs the same as a wrong password.
 */
@Injectable()
export class PasswordHasher {
  private dummy: Promise<string> | undefined;

  hash(password: string): Promise<string> {
    return hashPassword(password);
  }

  verify(encoded: string, password: string): Promise<boolean> {
    return verifyPassword(encoded, password);
  }

  dummyHash(): Promise<string> {
    this.dummy ??= hashPassword(`benteng-dummy-${crypto.randomUUID()}`);
    return this.dummy;
  }
}
