import type { Scope } from '@benteng/tenancy';

/**
 * Where the bytes of documents live; their metadata stays in the `documents` table. A key is
 * opaque to everyone but the driver that returned it, and is only ever read back from a document
 * row the scope could see, never taken from a request.
 *
 * Every method takes the Scope, and a driver keeps tenants apart on its own as well: the default
 * driver (PostgresDocumentStorage) through row-level security; an S3-compatible driver would put
 * the tenant id at the front of every object key it writes and refuse keys outside that prefix.
 */
export abstract class DocumentStorage {
  /** Stores the bytes and returns the key to read or delete them with. */
  abstract put(scope: Scope, content: Buffer): Promise<string>;

  /** The bytes under `key`, or null when there are none (in this tenant). */
  abstract get(scope: Scope, key: string): Promise<Buffer | null>;

  /** Removes the bytes under `key`; removing what is not there is not an error. */
  abstract delete(scope: Scope, key: string): Promise<void>;
}
