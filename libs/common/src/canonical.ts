/** Anything `canonicalize` accepts: JSON values, plus bigint for database sequence numbers. */
export type CanonicalValue = null | boolean | number | bigint | string | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue };

/**
 * A deterministic JSON text for a value: object keys sorted by UTF-16 code units at every depth
 * (as RFC 8785 does), arrays in their own order, no whitespace, numbers and strings as
 * JSON.stringify writes them. A bigint is written as its exact decimal digits.
 *
 * Hand-written because the audit hash must not depend on key order, and key order does not
 * survive storage: PostgreSQL's jsonb reorders object keys (shorter keys first), so the `data`
 * read back by the verifier is not ordered as the writer built it, and JSON.stringify follows
 * insertion order. The rules are few enough to read here, and a dependency would be one more thing
 * whose upgrade could silently change every hash.
 *
 * Values JSON cannot represent faithfully (undefined, NaN, Infinity, functions, Dates, class
 * instances) throw instead of being dropped or converted, because a silent conversion could make
 * the writer and the verifier hash different texts.
 */
export function canonicalize(value: CanonicalValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalize: numbers must be finite');
      return JSON.stringify(value);
    case 'bigint':
      return value.toString();
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item: CanonicalValue) => canonicalize(item)).join(',')}]`;
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new TypeError('canonicalize: only plain objects are allowed');
      const record = value as { readonly [key: string]: CanonicalValue };
      const members = Object.keys(record)
        .sort()
        .map((key) => `${JSON.stringify(key)}:${canonicalize(record[key])}`);
      return `{${members.join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalize: unsupported ${typeof value}`);
  }
}
