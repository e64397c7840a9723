import type { Client } from 'pg';
import { INTERNAL_ROLE, RUNTIME_ROLE } from '@benteng/config';

/**
 * Lets a role the migrations create NOLOGIN log in with the configured password. The migrations
 * create the roles without a password (a password never belongs in a checked-in file).
 */
async function enableLogin(client: Client, role: string, password: string): Promise<void> {
  await client.query(`ALTER ROLE ${client.escapeIdentifier(role)} WITH LOGIN PASSWORD ${client.escapeLiteral(password)}`);
}

/** The runtime role benteng_app (the public listener and the worker). */
export async function enableRuntimeRoleLogin(client: Client, password: string): Promise<void> {
  await enableLogin(client, RUNTIME_ROLE, password);
}

/** The internal listener's role benteng_internal (prisma/migrations/20261207140000_internal_role). */
export async function enableInternalRoleLogin(client: Client, password: string): Promise<void> {
  await enableLogin(client, INTERNAL_ROLE, password);
}
