import pg from 'pg';
import type { TenantBoundary } from './tenant-database.js';

export interface TenantSqlPoolOptions {
  /** The runtime role's connection string (runtimeDatabaseUrl), read when the pool is first used. */
  connectionString: () => string;
  /** PostgreSQL's application_name of the pool's connections. */
  applicationName: string;
  max: number;
}

/**
 * Plain `pg` transactions under the same rules as TenantDatabase.run, for hot paths where Prisma's
 * query compiler and result mapping cost too much (docs/benchmarks.md, "Changes and their effect —
 * export"): every transaction's first statement sets `app.tenant_id` locally, on a connection of the
 * runtime role (RLS applies, FORCE). What the statements may read beyond RLS is the caller's to
 * restrict, as with TenantDatabase.
 *
 * The pool is created on first use, so a process that never uses it holds no extra connection.
 */
export class TenantSqlPool {
  private pool: pg.Pool | undefined;

  constructor(private readonly options: TenantSqlPoolOptions) {}

  /** A transaction of the runtime role with `app.tenant_id` set locally first, as TenantDatabase.run. */
  async run<T>(boundary: TenantBoundary, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (!this.pool) {
      // A connection attempt that gets no answer (PostgreSQL restarting) fails after 10 s, so the job
      // fails and BullMQ retries it, instead of waiting for ever.
      this.pool = new pg.Pool({
        connectionString: this.options.connectionString(),
        max: this.options.max,
        idleTimeoutMillis: 10_000,
        connectionTimeoutMillis: 10_000,
        application_name: this.options.applicationName,
      });
      // An idle connection that dies (a PostgreSQL restart) is dropped by the pool; without a
      // listener its 'error' event would end the process. Errors of a query in use reach the caller.
      this.pool.on('error', () => undefined);
    }
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // While checked out, the pool's idle listener is off: a connection that dies between two
    // statements (PostgreSQL restarting) emits 'error' on the client, which without a listener ends
    // the worker (test/faults/postgres.fault.ts). The statement in progress fails on its own.
    const onError = (error: Error) => {
      broken = error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      // Unnamed statement, as every statement of the pool: behind PgBouncer in transaction mode
      // (docs/scaling.md) a named one, prepared on the server connection of an earlier transaction,
      // is missing on the next ("does not exist") or there already ("already exists"), and PgBouncer
      // 1.18 does not track them. `set_config(…, true)`: local to this transaction, never left on a
      // server connection another client gets next.
      await client.query({ text: "SELECT set_config('app.tenant_id', $1, true)", values: [boundary.tenantId] });
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error;
      }
      throw error;
    } finally {
      // A connection that could not roll back is dropped, never reused with a tenant setting.
      client.off('error', onError);
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }
}
