/**
 * Every problem+json answer of a whole test file carries a `code` and the matching
 * `urn:benteng:problem:<code>` type (apps/api/src/http/problem.ts#problemBase), whichever path
 * produced it: a feature's domain error, a guard, the router, Fastify's parser, the queue board's
 * gate. test/support/leak-capture.ts feeds it every response of every app test/support/api.ts
 * builds (apps built with `expectLeaks`, i.e. with a control removed on purpose, are left out), and
 * test/support/setup-env.ts fails the file in an afterAll, so a new refusal path without a code
 * fails whichever spec first reaches it. Fastify's router refusals (`frameworkErrors`, e.g. 414) and
 * the parser's (`clientErrorHandler`) are answered without running hooks; the specs that provoke
 * them check their codes themselves (test/security/problem-codes.spec.ts, malformed-requests.spec.ts).
 */
export interface UncodedProblem {
  where: string;
  body: string;
}

class ProblemCodes {
  private readonly uncoded: UncodedProblem[] = [];
  private checked = 0;

  record(response: { method: string; url: string; status: number; contentType: string | undefined; body: string }): void {
    if (!response.contentType?.startsWith('application/problem+json')) return;
    this.checked++;
    let problem: { type?: unknown; code?: unknown; status?: unknown } | undefined;
    try {
      problem = JSON.parse(response.body) as typeof problem;
    } catch {
      problem = undefined;
    }
    const code = problem?.code;
    const coded = typeof code === 'string' && /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/.test(code) && problem?.type === `urn:benteng:problem:${code}` && problem?.status === response.status;
    if (!coded) this.uncoded.push({ where: `${response.method} ${response.url.split('?')[0]} → ${response.status}`, body: response.body.slice(0, 200) });
  }

  problems(): readonly UncodedProblem[] {
    return this.uncoded;
  }

  get count(): number {
    return this.checked;
  }
}

export const problemCodes = new ProblemCodes();
