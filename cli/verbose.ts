import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { isCredentialHeader, REDACTED, redactUrl } from '../lib/redact.js';
import type { Output } from './output.js';

const REQUEST_START = 'http.client.request.start';
const RESPONSE_FINISH = 'http.client.response.finish';

/**
 * `-v`: each request's and answer's headers on stderr, as curl prints them
 * (`> ` for what is sent, `< ` for what comes back), taken from Node's own
 * HTTP/1.1 diagnostics channels, so every request of every mode is shown,
 * proxy CONNECTs too. Values of credential headers (the library's list and
 * `--secret-header`) are `[REDACTED]`, secret query values too, and any
 * credential this run was given, wherever it appears. Returns the function
 * that stops it.
 */
export function showExchanges(output: Output, secretHeaders: readonly string[] = []): () => void {
  const headerLine = (prefix: string, name: string, value: string): string =>
    `${prefix}${name}: ${isCredentialHeader(name, secretHeaders) ? REDACTED : String(value)}`;
  const onRequest = (message: unknown): void => {
    const { request } = message as { request: ClientRequest };
    // CONNECT's path is host:port, no URL to redact.
    const path = request.method === 'CONNECT' ? request.path : redactUrl(new URL(request.path, 'http://host')).slice('http://host'.length);
    output.stderr(`> ${request.method} ${path} HTTP/1.1`);
    for (const name of request.getRawHeaderNames()) {
      const value = request.getHeader(name);
      for (const each of Array.isArray(value) ? value : [value]) output.stderr(headerLine('> ', name, String(each)));
    }
    output.stderr('>');
  };
  const onResponse = (message: unknown): void => {
    const { response } = message as { response: IncomingMessage };
    output.stderr(`< HTTP/${response.httpVersion} ${response.statusCode} ${response.statusMessage ?? ''}`.trimEnd());
    const raw = response.rawHeaders;
    for (let index = 0; index < raw.length; index += 2) output.stderr(headerLine('< ', raw[index]!, raw[index + 1]!));
    output.stderr('<');
  };
  diagnosticsChannel.subscribe(REQUEST_START, onRequest);
  diagnosticsChannel.subscribe(RESPONSE_FINISH, onResponse);
  return () => {
    diagnosticsChannel.unsubscribe(REQUEST_START, onRequest);
    diagnosticsChannel.unsubscribe(RESPONSE_FINISH, onResponse);
  };
}
