import { Injectable } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';

/**
 * The key families the ring holds (prisma/migrations/20261207152000_key_ring,
 * 20261207174000_key_ring_job_envelope): `access-token` (Ed25519 keys that sign access and partner
 * tokens, libs/auth/src/signing-keys.ts) and `job-envelope` (HMAC-SHA256 keys that sign job
 * envelopes, libs/jobs/src/job-signer.ts).
 */
export const KEY_FAMILIES = ['access-token', 'job-envelope'] as const;
export type KeyFamily = (typeof KEY_FAMILIES)[number];
export type KeyState = 'next' | 'active' | 'retired' | 'revoked';

export interface KeyRingRow {
  kid: string;
  state: KeyState;
  rootKid: string;
  material: Buffer;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
  verifyUntil: Date | null;
  revokedAt: Date | null;
}

/** What one rotation does, decided by planRotation (libs/auth/src/key-rotation.ts) and applied in one transaction. */
export interface RingChange {
  add?: { kid: string; rootKid: string; material: Buffer };
  transitions: { kid: string; state: KeyState; verifyUntil?: Date }[];
}

interface RawRow {
  kid: string;
  state: KeyState;
  root_kid: string;
  material: Uint8Array;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
  verify_until: Date | null;
  revoked_at: Date | null;
}

const rowOf = (r: RawRow): KeyRingRow => ({
  kid: r.kid,
  state: r.state,
  rootKid: r.root_kid,
  material: Buffer.from(r.material),
  createdAt: r.created_at,
  activatedAt: r.activated_at,
  retiredAt: r.retired_at,
  verifyUntil: r.verify_until,
  revokedAt: r.revoked_at,
});

/**
 * The key ring's table, a platform table without tenant, through its named functions only
 * (docs/style.md, "One persistence style": work without a tenant goes through named SQL functions).
 */
@Injectable()
export class KeyRingRepository {
  constructor(private readonly prisma: PrismaService) {}

  async entries(family: KeyFamily): Promise<KeyRingRow[]> {
    const rows = await this.prisma.client.$queryRaw<RawRow[]>`SELECT * FROM key_ring_entries(${family})`;
    return rows.map(rowOf);
  }

  /**
   * Runs `decide` on the family's current rows under the family's lock and applies its change in
   * the same transaction, so two rotations (two workers, the CLI) never both promote.
   */
  async change<T>(family: KeyFamily, now: Date, decide: (rows: KeyRingRow[]) => { change: RingChange; result: T }): Promise<T> {
    return this.prisma.client.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT key_ring_lock(${family})`;
      const rows = (await tx.$queryRaw<RawRow[]>`SELECT * FROM key_ring_entries(${family})`).map(rowOf);
      const { change, result } = decide(rows);
      if (change.add) {
        await tx.$executeRaw`SELECT key_ring_add(${family}, ${change.add.kid}, ${change.add.rootKid}, ${change.add.material}, ${now})`;
      }
      // Retire or revoke before promoting: one active key per family (key_ring_transition refuses a second).
      const order: Record<KeyState, number> = { revoked: 0, retired: 1, next: 2, active: 3 };
      for (const t of [...change.transitions].sort((a, b) => order[a.state] - order[b.state])) {
        await tx.$executeRaw`SELECT key_ring_transition(${family}, ${t.kid}, ${t.state}, ${now}, ${t.verifyUntil ?? null}::timestamptz)`;
      }
      await tx.$queryRaw`SELECT * FROM key_ring_prune(${family}, ${now})`;
      return result;
    });
  }
}
