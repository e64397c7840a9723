/** One create request under an `Idempotency-Key`: the route template, the key and the request's hash. */
export interface IdempotentRequest {
  /** `POST /v1/invoices`: the method and route template, so one key on two routes is two keys. */
  readonly route: string;
  readonly key: string;
  /** The hash of what makes two requests the same (path parameters and body). */
  readonly requestHash: string;
}

/** The answer to replay: status, body and the headers that belong to it (Location, ETag). */
export interface StoredResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

/** A key already taken: by a request still running (`response` null) or by one that has answered. */
export interface IdempotencyRecord {
  readonly id: string;
  readonly requestHash: string;
  readonly createdAt: Date;
  readonly response: StoredResponse | null;
}
