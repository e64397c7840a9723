import type { Client } from 'pg';
import { INTERNAL_ROLE, RUNTIME_ROLE } from '@benteng/config';

/** How often a concurrent change of the same role is retried before the error is passed on. */
const ROLE_CHANGE_ATTEMPTS = 25;

/**
 * Lets a role the migrations create NOLOGIN log in with the configured password. The migrations
 * create the roles without a password (a password never belongs in a checked-in file).
 *
 * Roles belong to the whole server, not to a database, and the migration lock is per database, so
 * two migrations at once (replicas that migrate as they start, two deployments or test runs on one
 * server) both run this ALTER ROLE. PostgreSQL refuses all but one concurrent change of the same
 * catalog row with "tuple concurrently updated" (SQLSTATE XX000; 35 of 40 in a test of 8 at once):
 * that refusal is retried after a short random pause, every other error is passed on.
 */
async function enableLogin(client: Client, role: string, password: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query(`ALTER ROLE ${client.escapeIdentifier(role)} WITH LOGIN PASSWORD ${client.escapeLiteral(password)}`);
      return;
    } catch (error) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      if (code !== 'XX000' || message !== 'tuple concurrently updated' || attempt >= ROLE_CHANGE_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
  }
}

/** The runtime role benteng_app (the public listener and the worker). */
export async function enableRuntimeRoleLogin(client: Client, password: string): Promise<void> {
  await enableLogin(client, RUNTIME_ROLE, password);
}

/** The internal listener's role benteng_internal (prisma/migrations/20261207140000_internal_role). */
export async function enableInternalRoleLogin(client: Client, password: string): Promise<void> {
  await enableLogin(client, INTERNAL_ROLE, password);
}
