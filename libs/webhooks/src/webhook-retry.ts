/**
 * WEBHOOK_RETRY_SCHEDULE_S as delays: entry 0 is the delay of the first attempt, entry n the wait
 * after attempt n failed before attempt n+1. The schedule's length is the number of attempts.
 */
export function retrySchedule(value: string): number[] {
  return value.split(',').map((part) => Number(part) * 1000);
}

/** Milliseconds to wait before the attempt after `attempt` (1-based), or null when the schedule is exhausted. */
export function nextDelayMs(schedule: readonly number[], attempt: number): number | null {
  return attempt >= 1 && attempt < schedule.length ? schedule[attempt]! : null;
}
