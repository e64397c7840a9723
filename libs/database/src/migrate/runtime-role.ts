import type { Client } from 'pg';
import { RUNTIME_ROLE } from '@benteng/config';

/**
 * Lets the runtime role log in with the configured password. The migrations create the role
 * without a password (a password never belongs in a checked-in file).
 */
export async function enableRuntimeRoleLogin(client: Client, password: string): Promise<void> {
  await client.query(
    `ALTER ROLE ${client.escapeIdentifier(RUNTIME_ROLE)} WITH LOGIN PASSWORD ${client.escapeLiteral(password)}`,
  );
}
