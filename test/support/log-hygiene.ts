/**
 * Log hygiene across a whole test file (issue 14): every log capture the test helpers create
 * (test/support/api.ts for API apps, test/support/worker.ts for worker processes) is watched here,
 * and test/support/setup-env.ts fails the file in an afterAll when a captured line
 * - carries the same key twice in one object: JSON.parse keeps the last one, and so do most log
 *   pipelines, which then file the line under the wrong request, tenant or service;
 * - has a `conflicting` member: a log call named a key its logger had already bound, with another
 *   value (libs/common/src/log-serializers.ts keeps it there rather than write the key twice); the
 *   call site should name what it means instead (`deliveryAttempt`, `enqueued.jobId`); or
 * - embeds Prisma's query text (the "Invalid `prisma.x.y()` invocation" message, which quotes the
 *   call's arguments: tenant ids, customer data) or a raw query's text.
 */
import type { CapturedLog } from './leak-registry.js';

export interface HygieneProblem {
  kind: 'duplicate key' | 'conflicting binding' | 'prisma query text';
  /** Which key, or which pattern matched; never the line itself (it may carry what it must not). */
  what: string;
  /** The log line's `msg`, to find its call site. */
  msg: string;
}

/** What Prisma's error messages look like when they quote the call or the query. */
const PRISMA_QUERY_TEXT: [RegExp, string][] = [
  [/`[\w$]+(?:\.[\w$]+)*\(\)` invocation/, 'Prisma invocation text'],
  [/Raw query failed/, 'Prisma raw query text'],
  [/→\s*\d+\s/, 'Prisma call excerpt'],
  [/"query":\s*"(?:SELECT|INSERT|UPDATE|DELETE|WITH)\b/i, 'SQL text'],
];

/**
 * The keys that occur more than once in one object of a JSON text, in order. Hand-written: the
 * language's parser (JSON.parse) keeps the last binding silently and its reviver only sees the
 * result, and no direct dependency of the project reports duplicates; a tokenizer of strings and
 * brackets is all it takes, since pino writes valid JSON.
 */
export function duplicateKeys(text: string): string[] {
  const found: string[] = [];
  // One entry per open container: the keys of an object so far, or null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack.at(-1) instanceof Set;
    } else if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack.at(-1);
      if (expectKey && top instanceof Set) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.has(key)) found.push(key);
        else top.add(key);
      }
      expectKey = false;
      i = end;
    }
  }
  return found;
}

function parsedLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** What is wrong with one log line (empty when nothing is). */
export function inspectLogLine(line: string): HygieneProblem[] {
  let msg = '';
  try {
    const parsed = JSON.parse(line) as { msg?: unknown };
    msg = typeof parsed.msg === 'string' ? parsed.msg : '';
  } catch {
    return [];
  }
  const problems: HygieneProblem[] = duplicateKeys(line).map((key) => ({ kind: 'duplicate key', what: key, msg }));
  const conflicting = (parsedLine(line) as { conflicting?: unknown } | undefined)?.conflicting;
  if (conflicting && typeof conflicting === 'object') for (const key of Object.keys(conflicting)) problems.push({ kind: 'conflicting binding', what: key, msg });
  for (const [pattern, what] of PRISMA_QUERY_TEXT) if (pattern.test(line)) problems.push({ kind: 'prisma query text', what, msg });
  return problems;
}

export class LogHygiene {
  private readonly logs = new Set<CapturedLog>();

  watch(log: CapturedLog): void {
    this.logs.add(log);
  }

  unwatch(log: CapturedLog): void {
    this.logs.delete(log);
  }

  problems(): HygieneProblem[] {
    return [...this.logs].flatMap((log) =>
      log.raw
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .flatMap(inspectLogLine),
    );
  }
}

/** This test file's watcher. */
export const logHygiene = new LogHygiene();
