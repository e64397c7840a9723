/**
 * The logger context of every stage of the public gate. The gate was one class (AccessGuard) and
 * its log lines (security.blocked_request, security.rate_limited, internal route refused) keep the
 * context they had, so log queries and alerts written against it still find them.
 */
export const GATE_LOG_CONTEXT = 'AccessGuard';
