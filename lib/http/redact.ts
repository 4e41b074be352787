import type { Got } from 'got';

/**
 * Every rule that keeps credentials out of what the library prints, throws or
 * sends somewhere it was not asked to: errors, events, transports and the CLI
 * ask this module, so a new kind of secret is learnt in one place (got keeps
 * the same rules in `crossOriginStripHeaders` and `strip-url-auth`).
 */

/**
 * Request headers whose values are credentials (lower case): always treated
 * as secret; `secretHeaders` adds more. The API-key headers are here because
 * they are credentials as surely as `Authorization` is.
 */
export const CREDENTIAL_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'api-key',
  'x-auth-token',
  // S3: a session token is a credential, as its query twin `X-Amz-Security-Token` is.
  'x-amz-security-token',
];

/**
 * Query parameters whose values are credentials (compared in lower case):
 * bearer tokens, API keys (Google `key`, Azure Functions `code`), signed-URL
 * signatures (S3 `X-Amz-*`, GCS `X-Goog-*`, Azure SAS `sig`) and passwords.
 */
export const SECRET_QUERY_PARAMETERS: readonly string[] = [
  'access_token',
  'api-key',
  'api_key',
  'apikey',
  'auth',
  'client_secret',
  'code',
  'id_token',
  'key',
  'password',
  'refresh_token',
  'secret',
  'sig',
  'signature',
  'token',
  'x-amz-credential',
  'x-amz-security-token',
  'x-amz-signature',
  'x-goog-credential',
  'x-goog-signature',
];

/**
 * What stands in for a removed secret, in text and in URLs alike. Brackets
 * rather than `<…>`: a URL's query keeps `[` and `]` as they are, where it
 * would percent-encode `<` and `>`.
 */
export const REDACTED = '[REDACTED]';

/** True for a header whose value is a credential: one of `CREDENTIAL_HEADERS`, or of `secretHeaders` (any case). */
export function isCredentialHeader(name: string, secretHeaders: readonly string[] = []): boolean {
  const lower = name.toLowerCase();
  return CREDENTIAL_HEADERS.includes(lower) || secretHeaders.some((secret) => secret.toLowerCase() === lower);
}

export function isSecretQueryParameter(name: string): boolean {
  return SECRET_QUERY_PARAMETERS.includes(name.toLowerCase());
}

/**
 * A URL's text for messages and events: any user:password removed and the
 * value of each secret query parameter shown as `[REDACTED]`. The request
 * itself still goes to the real URL.
 */
export function redactUrl(url: URL | string): string {
  const copy = new URL(url);
  if (copy.username || copy.password) {
    copy.username = '';
    copy.password = '';
  }
  const pairs = queryPairs(copy.search);
  if (pairs.some(({ name }) => isSecretQueryParameter(name))) {
    copy.search = pairs.map(({ name, raw }) => (isSecretQueryParameter(name) ? raw.replace(/=.*$/s, `=${REDACTED}`) : raw)).join('&');
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
 * The secrets a response body or a message must never repeat: credential
 * header values (whole, and the token after a scheme such as `Bearer `); a
 * URL's password (or its user when it has no password: a token), the
 * `Authorization: Basic …` got builds from them, and its secret query values.
 * Every value counts, however short (see `redactSecrets`).
 */
export function secretValues(
  headerSources: ReadonlyArray<Record<string, unknown> | undefined>,
  urls: ReadonlyArray<URL | undefined>,
  secretHeaders: readonly string[] = [],
): string[] {
  const values = new Set<string>();
  for (const source of headerSources) addHeaderSecrets(values, source, secretHeaders);
  for (const url of urls) {
    if (!url) continue;
    // got sends the decoded user:password; an echoed URL shows them as written.
    addLoginSecrets(values, safeDecode(url.username), safeDecode(url.password));
    values.add(url.password || url.username);
    for (const value of secretQueryValues(url)) values.add(value);
  }
  values.delete('');
  return [...values];
}

/**
 * The secrets a got instance adds to every request by itself: its credential
 * headers, and the Basic header it builds from its `username`/`password`.
 */
export function gotSecretValues(instance: Got, secretHeaders: readonly string[] = []): string[] {
  const { headers, username, password } = instance.defaults.options;
  const values = new Set<string>();
  addHeaderSecrets(values, headers as Record<string, unknown>, secretHeaders);
  addLoginSecrets(values, username, password);
  values.delete('');
  return [...values];
}

/**
 * `instance`, extended to add to `secrets` the credential header values of
 * every request as got finally sends it (after its hooks, its cookie jar and
 * its Basic header from credentials), before any response can echo them.
 */
export function learningSentSecrets(instance: Got, secrets: string[], secretHeaders: readonly string[]): Got {
  return instance.extend({
    hooks: {
      beforeRequest: [
        (options) => {
          const sent = new Set<string>();
          addHeaderSecrets(sent, options.headers, secretHeaders);
          learnSecrets(secrets, sent);
        },
      ],
    },
  });
}

/** Adds to `secrets` the values it does not hold yet: the list is shared, and errors made later read it. */
export function learnSecrets(secrets: string[], values: Iterable<string>): void {
  for (const value of values) if (value !== '' && !secrets.includes(value)) secrets.push(value);
}

/**
 * `text` with every occurrence of each secret replaced by `[REDACTED]`.
 * Matching is exact and case-sensitive, and no secret is too short to count:
 * a very short secret (a 3-character password, say) is also blanked where it
 * happens to occur inside other words or numbers; showing too little is the
 * price of never showing it. Overlapping occurrences become one marker.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let hidden: Uint8Array | undefined;
  for (const secret of secrets) {
    if (secret === '') continue;
    for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) {
      hidden ??= new Uint8Array(text.length);
      hidden.fill(1, at, at + secret.length);
    }
  }
  if (!hidden) return text;
  let result = '';
  for (let start = 0; start < text.length;) {
    let end = start;
    const secret = hidden[start] === 1;
    while (end < text.length && (hidden[end] === 1) === secret) end++;
    result += secret ? REDACTED : text.slice(start, end);
    start = end;
  }
  return result;
}

/** True when `target` is plain http where `origin` was https: data and credentials would go out in cleartext. */
export function isSchemeDowngrade(origin: URL, target: URL): boolean {
  return origin.protocol === 'https:' && target.protocol === 'http:';
}

/**
 * got options for a request to `target` with headers meant for `origin`: on
 * another origin (a tus upload URL on a storage host, say) every credential
 * header is removed, and set to `undefined` so got drops its instance's own
 * too, and the instance's `username`/`password` are emptied so got builds no
 * Basic header. Same origin: the headers as they are.
 */
export function credentialsForOrigin(
  headers: Record<string, string | undefined>,
  origin: URL,
  target: URL,
  secretHeaders: readonly string[] = [],
): { headers: Record<string, string | undefined>; username?: string; password?: string } {
  if (target.origin === origin.origin) return { headers };
  const stripped: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) if (!isCredentialHeader(name, secretHeaders)) stripped[name] = value;
  for (const name of new Set([...CREDENTIAL_HEADERS, ...secretHeaders.map((secret) => secret.toLowerCase())])) stripped[name] = undefined;
  return { headers: stripped, username: '', password: '' };
}

/** Adds the values of the credential headers in `source`: whole, and the part after an auth scheme. */
function addHeaderSecrets(values: Set<string>, source: Record<string, unknown> | undefined, secretHeaders: readonly string[]): void {
  for (const [name, value] of Object.entries(source ?? {})) {
    if (!isCredentialHeader(name, secretHeaders) || typeof value !== 'string') continue;
    values.add(value);
    values.add(value.slice(value.indexOf(' ') + 1));
  }
}

/** Adds a login's password (its user alone when there is no password: a token) and the Basic header got makes of it. */
function addLoginSecrets(values: Set<string>, username: string, password: string): void {
  if (!username && !password) return;
  values.add(password || username);
  const basic = Buffer.from(`${username}:${password}`).toString('base64');
  values.add(basic);
  values.add(`Basic ${basic}`);
}

/** The values of a URL's secret query parameters, as written and decoded. */
function secretQueryValues(url: URL): string[] {
  const values: string[] = [];
  for (const { name, raw } of queryPairs(url.search)) {
    if (!isSecretQueryParameter(name)) continue;
    const value = raw.slice(raw.indexOf('=') + 1);
    if (!raw.includes('=') || value === '') continue;
    values.push(value, safeDecode(value.replace(/\+/g, ' ')));
  }
  return values;
}

/** `?a=1&b=2` as its pairs: the decoded name, and the pair as written. */
function queryPairs(search: string): Array<{ name: string; raw: string }> {
  if (search.length <= 1) return [];
  return search
    .slice(1)
    .split('&')
    .map((raw) => ({ name: safeDecode(raw.replace(/=.*$/s, '').replace(/\+/g, ' ')), raw }));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
