import type { DigestAlgorithm } from '../lib/index.js';
import { REDACTED } from '../lib/redact.js';
import { parseDigits, parseSecondsToMs } from './units.js';
import { UsageError } from './usage-error.js';

/*
 * The values flags take: sizes, seconds, integers, headers, credentials and
 * URLs, each read one way and refused with a message that names the flag.
 */

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * `65536`, `64KiB`, `1MiB`, `1.5MB` → bytes (SI units are powers of 1000, IEC
 * units of 1024), rounded down. A fraction needs a unit: `1.5` alone is
 * refused, not read as 1 byte. `max` bounds what the flag can take.
 */
export function parseSize(name: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new UsageError(`${name} must be a size such as 65536, 64KiB, 1MiB or 1.5MB, received ${JSON.stringify(text)}`);
  }
  if (unit === 1 && match[1]!.includes('.')) {
    throw new UsageError(`${name} must be a whole number of bytes or have a unit (1.5MiB, say), received ${JSON.stringify(text)}`);
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes < 1) throw new UsageError(`${name} must be at least 1 byte, received ${JSON.stringify(text)}`);
  if (bytes > max) throw new UsageError(`${name} must be at most ${max} bytes, received ${JSON.stringify(text)}`);
  return bytes;
}

/** Decimal seconds, as curl takes them (`2.5`), in ms; 0 means no limit and is dropped by the caller. */
export function parseSeconds(name: string, text: string): number {
  const ms = parseSecondsToMs(text);
  if (ms === undefined) throw new UsageError(`${name} must be a number of seconds such as 30 or 2.5, received ${JSON.stringify(text)}`);
  return ms;
}

/** `-u USER:PASSWORD`: split at the first colon (a password may hold colons); bhw does not prompt for a missing password. */
export function parseUser(text: string): { name: string; password: string } {
  const colon = text.indexOf(':');
  if (colon < 0) throw new UsageError('-u/--user must be USER:PASSWORD (bhw does not prompt for a password)');
  return { name: text.slice(0, colon), password: text.slice(colon + 1) };
}

export function parseInteger(name: string, text: string, min: number, alternative = ''): number {
  const value = parseDigits(text);
  if (value === undefined || value < min) {
    throw new UsageError(`${name} must be an integer of at least ${min}${alternative ? ` ${alternative}` : ''}, received ${JSON.stringify(text)}`);
  }
  return value;
}

/** `-H 'Name: value'` lines → a header record; a repeated name joins its values with `, ` (RFC 9110 §5.3). */
export function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new UsageError(`-H must look like 'Name: value', received ${JSON.stringify(line)}`);
    }
    const value = line.slice(colon + 1).trim();
    const key = Object.keys(headers).find((existing) => existing.toLowerCase() === name.toLowerCase()) ?? name;
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return headers;
}

/** `--secret-header NAME`: a header name (an RFC 9110 token). */
export function parseHeaderName(name: string): string {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`--secret-header must be a header name, received ${JSON.stringify(name)}`);
  return name;
}

/** As curl reads a URL without a scheme (`127.0.0.1:8080/up`, `localhost:8080`): `http://` is put in front. */
export function withDefaultScheme(text: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
}

/** A URL flag or argument: checked by `checkUrl`, `http://` assumed when the scheme is left out; the message quotes the text as typed. */
export function parseUrl(name: string, text: string): string {
  const url = withDefaultScheme(text);
  if (url !== text && !URL.canParse(url)) checkUrl(name, text);
  checkUrl(name, url);
  return url;
}

/**
 * The one check of a URL the CLI is given (`<url>`, `--resume`, `--proxy`, a
 * proxy variable): it parses and is http: or https:. The message quotes the
 * text with any `user:password@` replaced, as the text may be a proxy URL.
 */
export function checkUrl(name: string, text: string): URL {
  const shown = JSON.stringify(text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, `$1${REDACTED}@`));
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${name} is not a valid URL: ${shown}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${name} must be an http: or https: URL, received ${shown}`);
  }
  return url;
}

const DIGESTS: readonly DigestAlgorithm[] = ['sha-256', 'sha-512'];

/**
 * `--digest`: one of RFC 9530's active algorithms, spelled as the field
 * carries it. A near spelling (`sha256`, `SHA-512`) is pointed to the right
 * one; md5 and sha-1 are named as the insecure ones the RFC retired.
 */
export function parseDigest(text: string): DigestAlgorithm {
  if ((DIGESTS as readonly string[]).includes(text)) return text as DigestAlgorithm;
  const near = text.toLowerCase().replace(/^sha-?(\d+)$/, 'sha-$1');
  const hint = (DIGESTS as readonly string[]).includes(near)
    ? ` (did you mean ${near}?)`
    : /^(md5|sha-?1)$/i.test(text)
      ? ` (${text} is an insecure algorithm RFC 9530 no longer lists)`
      : '';
  throw new UsageError(`--digest must be sha-256 or sha-512, received ${JSON.stringify(text)}${hint}`);
}
