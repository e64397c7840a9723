import { prepareTestProcess } from './test-process.js';

// The unit project (test/vitest.config.ts): no global setup, so no test database, Redis or keys
// are injected; the specs need none.
prepareTestProcess();
