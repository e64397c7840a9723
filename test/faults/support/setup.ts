import 'reflect-metadata';

// The fault tests talk to their own processes only (test/faults/support/stack.ts); this process's
// own helpers (password hashing, key generation, migrations) run with quiet test settings.
process.env.NODE_ENV = 'test';
process.env.LOG_LEVEL ??= 'silent';
