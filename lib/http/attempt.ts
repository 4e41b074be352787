import { Readable } from 'node:stream';
import type { Got, Method, Request as GotRequest, Response as GotResponse } from 'got';
import type { ErrorPosition, ProgressSnapshot } from '../types.js';
import { abortError } from './abort.js';
import { readResponseBeforeWriteError } from './early-response.js';
import { ContinueGate } from './expect-continue.js';
import { errorForNetwork, errorForResponse, summarizeResponse } from './responses.js';
import { AttemptFailed } from './retry-loop.js';
import { isSuccess } from './status.js';

/**
 * The one place that makes a request through the caller's got instance.
 * These options are the library's whatever the instance says: it reads every
 * status itself, a redirect would resend (or, streamed, silently drop) the
 * body somewhere it was not asked to, and got's own retries would resend a
 * body the retry loop never saw (a streamed body cannot be replayed at all, a
 * tus PATCH would go again with a stale `Upload-Offset`).
 */
const LIBRARY_OWNED = { throwHttpErrors: false, followRedirect: false, retry: { limit: 0 } } as const;

/** One request: where, how, and with which headers (credentials already fitted to the target's origin). */
export interface RequestSpec {
  method: Method;
  url: URL;
  headers: Record<string, string | undefined>;
  /** Query parameters added to `url` (batch: the idempotency key, when it travels there). */
  query?: Readonly<Record<string, string>> | undefined;
  /** Set to `''` to keep got from building a Basic header out of the instance's login (a request to another origin). */
  username?: string;
  password?: string;
  /**
   * `Expect: 100-continue`: the body waits for the server's `100 Continue`,
   * at most this long (ms). Absent: the body goes at once.
   */
  expectContinueTimeout?: number | undefined;
}

/** stream mode: a request whose body is written over time, and the `Expect` gate its writes wait on. */
export function openRequestStream(got: Got, spec: RequestSpec): { request: GotRequest; gate: ContinueGate | undefined } {
  const { method, url, headers, expectContinueTimeout } = spec;
  const request = got.stream(url, { method, headers, ...login(spec), ...LIBRARY_OWNED });
  readResponseBeforeWriteError(request);
  let gate: ContinueGate | undefined;
  if (expectContinueTimeout !== undefined) {
    const opened = new ContinueGate(expectContinueTimeout);
    request.once('continue', () => opened.open());
    // A final response before 100 Continue: the body waiting for it never goes.
    request.once('response', () => opened.shut());
    gate = opened;
  }
  return { request, gate };
}

/** A request with its whole body in hand. */
export interface AttemptSpec extends RequestSpec {
  body?: Buffer | undefined;
  /** Called when the body starts to go out (at once, or when the `Expect` gate opens): from then on its bytes count as sent. */
  onBodyGoes?: (() => void) | undefined;
  /** Cancels the request; the attempt then fails with an `AbortError`. */
  signal?: AbortSignal | undefined;
}

/** What an attempt's error says: the upload's figures, where it stood, and the credentials to keep out of a response body. */
export interface AttemptContext {
  progress(): ProgressSnapshot;
  position?(): ErrorPosition;
  credentials?: string[];
}

/**
 * One attempt: resolves with a 2xx response (its body a Buffer), or throws
 * `AttemptFailed` with the typed error of a non-2xx response or a connection
 * failure, for the retry loop to judge. Any other throw (an abort) ends the loop.
 */
export async function attempt(got: Got, spec: AttemptSpec, context: AttemptContext): Promise<GotResponse<Buffer>> {
  const { method, headers, body, onBodyGoes, signal } = spec;
  const url = withQuery(spec.url, spec.query);
  if (signal?.aborted) throw abortError(signal.reason);
  // An empty body (the tus PATCH that only declares the length) has nothing to hold back.
  const gate = body && body.length > 0 && spec.expectContinueTimeout !== undefined ? new ContinueGate(spec.expectContinueTimeout) : undefined;
  if (!gate) onBodyGoes?.();
  const request = got(url, {
    method,
    headers: gate ? { ...headers, 'content-length': String(body!.length) } : headers,
    ...login(spec),
    ...(gate ? { body: gatedBody(body!, gate, onBodyGoes) } : body ? { body } : {}),
    ...LIBRARY_OWNED,
    ...cancelledBy(got, signal),
    responseType: 'buffer' as const,
    resolveBodyOnly: false,
  });
  if (body) readResponseBeforeWriteError(request);
  if (gate) {
    // got's promise does not pass 'continue' on: it is the ClientRequest's.
    request.on('request', (clientRequest) => clientRequest.once('continue', () => gate.open()));
    request.on('response', () => gate.shut());
  }
  let response: GotResponse<Buffer>;
  try {
    response = await request;
  } catch (error) {
    if (signal?.aborted) throw abortError(signal.reason);
    const position = context.position?.();
    throw new AttemptFailed({ error: errorForNetwork(error, context.progress(), position), code: (error as { code?: string }).code });
  } finally {
    gate?.shut();
  }
  if (isSuccess(response.statusCode)) return response;
  const { statusCode, statusMessage, rawBody } = response;
  const summary = summarizeResponse({ statusCode, statusMessage, body: rawBody }, { credentials: context.credentials ?? [] });
  const error = errorForResponse(summary, response.headers, url, context.progress(), context.position?.());
  throw new AttemptFailed({ error, statusCode, retryAfter: response.headers['retry-after'] });
}

/**
 * got's `signal` option for an attempt: ours, and the instance's own if it has
 * one (a request's `signal` replaces the instance's). An AbortSignal, not the
 * promise's `.cancel()`: got 15 removed that.
 */
function cancelledBy(got: Got, signal: AbortSignal | undefined): { signal?: AbortSignal } {
  if (!signal) return {};
  const own = got.defaults.options.signal;
  return { signal: own ? AbortSignal.any([signal, own]) : signal };
}

/** `url` with `query` added; the same URL when there is nothing to add. */
function withQuery(url: URL, query: Readonly<Record<string, string>> | undefined): URL {
  if (query === undefined || Object.keys(query).length === 0) return url;
  const target = new URL(url.href);
  for (const [name, value] of Object.entries(query)) target.searchParams.set(name, value);
  return target;
}

/** got's login options of a spec, when it sets any. */
function login({ username, password }: RequestSpec): { username?: string; password?: string } {
  return { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }) };
}

/** A body that goes out only once the gate opens (got pipes it into the request). */
function gatedBody(body: Buffer, gate: ContinueGate, onBodyGoes?: () => void): Readable {
  const source = new Readable({ read() {} });
  void gate.opened.then(() => {
    onBodyGoes?.();
    source.push(body);
    source.push(null);
  });
  return source;
}
