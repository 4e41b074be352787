import { redactUrl } from '../http/redact.js';

/**
 * The checks every option goes through: each names the option and the value
 * it received, so a mistake reads as what it is (`highWaterMark must be a
 * positive integer, received 0`), never as a default silently taken.
 */

/** The known name within two edits of `key`, for "did you mean". */
export function nearest(key: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of names) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Refuses a field of the object option `name` (`retry`, `spool`, …) that is
 * not one of `fields`, naming the nearest known one. Undefined values are ignored.
 */
export function refuseUnknownFields(name: string, value: object, fields: readonly string[]): void {
  for (const [key, field] of Object.entries(value)) {
    if (field !== undefined && !fields.includes(key)) {
      const near = nearest(key, fields);
      throw new TypeError(`Unknown option '${name}.${key}'${near ? ` (did you mean '${name}.${near}'?)` : ''}`);
    }
  }
}

export function booleanOption(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, received ${describe(value)}`);
  return value;
}

export function nonNegativeNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${name} must be a number, received ${describe(value)}`);
  if (value < 0) throw new RangeError(`${name} must not be negative, received ${value}`);
  return value;
}

export function httpUrl(name: string, value: unknown): URL {
  let url: URL;
  try {
    url = value instanceof URL ? new URL(value.href) : new URL(String(value));
  } catch {
    throw new TypeError(`${name} must be an absolute http(s) URL, received ${describe(value)}`);
  }
  if (typeof value !== 'string' && !(value instanceof URL)) {
    throw new TypeError(`${name} must be a string or URL, received ${describe(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`${name} must use http: or https:, received ${JSON.stringify(redactUrl(url))}`);
  }
  return url;
}

export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number, received ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, received ${value}`);
  }
  return value;
}

export function nonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number, received ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, received ${value}`);
  }
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (!allowed.includes(value as T)) {
    throw new TypeError(`${name} must be one of ${allowed.map((v) => `'${v}'`).join(', ')}, received ${describe(value)}`);
  }
}

export function plainObject<T extends object>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw new TypeError(`${name} must be an object, received ${describe(value)}`);
  }
  return value;
}

export function headerRecord(value: Record<string, string> | undefined, name = 'headers'): Record<string, string> {
  plainObject(name, value);
  const result: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value ?? {})) {
    if (typeof entry !== 'string') {
      throw new TypeError(`${name}.${key} must be a string, received ${describe(entry)}`);
    }
    result[key] = entry;
  }
  return result;
}

/** A list of header names (RFC 9110 tokens), lower case. */
export function headerNames(name: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of header names, received ${describe(value)}`);
  return value.map((entry: unknown, index) => headerName(`${name}[${index}]`, entry).toLowerCase());
}

/** One header name (an RFC 9110 token), as given. */
export function headerName(name: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) {
    throw new TypeError(`${name} must be a header name, received ${describe(value)}`);
  }
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return `an object of type ${value.constructor?.name ?? 'Object'}`;
  return String(value);
}
