/**
 * Every rule that keeps credentials out of what the library prints, throws or
 * sends somewhere it was not asked to: errors, events, transports and the CLI
 * ask this module, so a new kind of secret is learnt in one place (got keeps
 * the same rules in `crossOriginStripHeaders` and `strip-url-auth`).
 */

/** Request headers whose values are credentials (lower case). */
export const CREDENTIAL_HEADERS: readonly string[] = ['authorization', 'proxy-authorization', 'cookie'];

/** What stands in for a removed secret. */
export const REDACTED = '<redacted>';

/** Values shorter than this are not treated as secrets: redacting them would mangle ordinary words. */
const MIN_SECRET_LENGTH = 6;

export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADERS.includes(name.toLowerCase());
}

/** Query parameters whose values are credentials (lower case): access tokens and signed-URL signatures. */
const SECRET_QUERY_PARAMETERS: readonly string[] = ['token', 'access_token', 'sig', 'signature', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token'];

/** A URL's text with any user:password removed and secret query values replaced, for messages and events. */
export function redactUrl(url: URL | string): string {
  const copy = new URL(url);
  if (copy.username || copy.password) {
    copy.username = '';
    copy.password = '';
  }
  for (const name of new Set(copy.searchParams.keys())) {
    if (SECRET_QUERY_PARAMETERS.includes(name.toLowerCase())) copy.searchParams.set(name, REDACTED);
  }
  return copy.href;
}

/** True when a URL carries a user or password. */
export function hasUrlCredentials(url: URL | string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

/**
 * The secrets an answer body must never repeat: credential header values
 * (whole, and the token after a scheme such as `Bearer `) and URL passwords.
 * A debugging server may echo the `Authorization` header in its error body.
 */
export function secretValues(headerSources: ReadonlyArray<Record<string, unknown> | undefined>, urls: ReadonlyArray<URL | undefined>): string[] {
  const values = new Set<string>();
  for (const source of headerSources) {
    for (const [name, value] of Object.entries(source ?? {})) {
      if (!isCredentialHeader(name) || typeof value !== 'string') continue;
      values.add(value);
      values.add(value.slice(value.indexOf(' ') + 1));
    }
  }
  for (const url of urls) {
    if (url?.password) values.add(decodeURIComponent(url.password));
  }
  return [...values].filter((value) => value.length >= MIN_SECRET_LENGTH);
}

/** `text` with every occurrence of each secret replaced by `<redacted>`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) result = result.replaceAll(secret, REDACTED);
  return result;
}

/** True when `target` is plain http where `origin` was https: data and credentials would go out in cleartext. */
export function isSchemeDowngrade(origin: URL, target: URL): boolean {
  return origin.protocol === 'https:' && target.protocol === 'http:';
}

/**
 * Headers for a request to `target` when they were meant for `origin`: on
 * another origin (a tus upload URL on a storage host, say) the credential
 * headers are removed, and set to `undefined` so got drops its instance's own
 * too. Same origin: returned as they are.
 */
export function headersForOrigin<T extends Record<string, string | undefined>>(headers: T, origin: URL, target: URL): Record<string, string | undefined> {
  if (target.origin === origin.origin) return headers;
  const stripped: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) if (!isCredentialHeader(name)) stripped[name] = value;
  for (const name of CREDENTIAL_HEADERS) stripped[name] = undefined;
  return stripped;
}
