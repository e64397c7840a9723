import { JobRejection } from '../../libs/jobs/src/job-rejection.js';

/**
 * What a job-envelope check answers: `accepted` when `run` returns, the JobRejection's reason when
 * it refuses. Any other error (a TypeError, which BullMQ would retry) is thrown on and fails the test.
 */
export function verdictOf(run: () => unknown, accepted = 'accepted'): string {
  try {
    run();
    return accepted;
  } catch (error) {
    if (error instanceof JobRejection) return error.reason;
    throw error;
  }
}

/** verdictOf for a check that settles later (JobSigner.verifyCurrent may reload the key ring first). */
export async function settledVerdictOf(run: () => Promise<unknown>, accepted = 'accepted'): Promise<string> {
  try {
    await run();
    return accepted;
  } catch (error) {
    if (error instanceof JobRejection) return error.reason;
    throw error;
  }
}
