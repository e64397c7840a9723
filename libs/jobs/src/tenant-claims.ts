/**
 * True when some key named `tenantId`, at any depth of `data` (objects and arrays), holds anything
 * but the envelope's tenant id (compared as a UUID, case-insensitively). The envelope is the only
 * authority on the tenant; a payload that names another one is a producer bug or a confused
 * deputy, and the job is refused rather than run with ids that may belong elsewhere.
 *
 * Walks iteratively, so a deeply nested payload cannot exhaust the stack.
 */
export function namesAnotherTenant(data: unknown, tenantId: string): boolean {
  const expected = tenantId.toLowerCase();
  const pending: unknown[] = [data];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      pending.push(...(value as unknown[]));
      continue;
    }
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'tenantId' && (typeof inner !== 'string' || inner.toLowerCase() !== expected)) return true;
      pending.push(inner);
    }
  }
  return false;
}
