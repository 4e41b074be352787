import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Got, RequestFunction } from 'got';
import { HttpsProxyAgent } from 'hpagent';
import { redactUrl } from './redact.js';

/*
 * Requests through an HTTP proxy as curl sends them (RFC 9112 §3.2.2, RFC
 * 9110 §9.3.6): an `http://` target as an absolute-form request to the proxy
 * (`POST http://host/path HTTP/1.1`), an `https://` target through a CONNECT
 * tunnel. Tunnelling plain http too (hpagent's HttpProxyAgent) fails behind
 * the common hardening that allows CONNECT to port 443 only (tinyproxy's
 * `ConnectPort 443`, squid's default `SSL_ports`).
 *
 * The absolute form is Node's own client pointed at the proxy with the full
 * URL as the path, over a keep-alive agent of its own: the request head is
 * written once, by Node. (http-proxy-agent rewrites a head Node already
 * rendered, and with keep-alive sent it twice on a reused socket through
 * squid.) CONNECT stays with hpagent, the tunnel it was already trusted for.
 */

/** Marks a proxy's refusal on its way through got (got keeps the `code` of the error it wraps). */
export const PROXY_REFUSED = 'ERR_BHW_PROXY';

/** The proxy answered instead of the server: CONNECT refused, or `407` to an absolute-form request. */
export interface ProxyRefusal extends Error {
  code: typeof PROXY_REFUSED;
  statusCode: number;
  /** The proxy's URL without user:password. */
  proxy: string;
}

/** Where requests go: a proxy per target scheme, and the targets reached directly (`NO_PROXY`). */
export interface ProxyRoutes {
  http?: URL | undefined;
  https?: URL | undefined;
  bypass?: (url: URL) => boolean;
}

/**
 * `instance` extended so that each request takes its route when it starts
 * (a tus upload URL on another host is judged on its own); a request whose
 * scheme has no proxy, or that `bypass` lets through, goes direct.
 */
export function throughProxy(instance: Got, routes: ProxyRoutes): Got {
  const absoluteForm = routes.http && absoluteFormRequest(routes.http);
  const tunnel = routes.https && new RefusalAwareTunnel({ proxy: routes.https, keepAlive: true });
  return instance.extend({
    hooks: {
      beforeRequest: [
        (options) => {
          const url = options.url instanceof URL ? options.url : new URL(String(options.url));
          if (routes.bypass?.(url)) return;
          if (url.protocol === 'http:' && absoluteForm) options.request = absoluteForm;
          if (url.protocol === 'https:' && tunnel) options.agent = { ...options.agent, https: tunnel };
        },
      ],
    },
  });
}

/** A got `request` function sending `http://` requests to `proxy` in absolute form. */
function absoluteFormRequest(proxy: URL): RequestFunction {
  const secure = proxy.protocol === 'https:';
  // One pool for every target: each connection goes to the proxy.
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const authorization = proxyAuthorization(proxy);
  return (url: URL, options: RequestOptions, callback?: (response: IncomingMessage) => void): ClientRequest => {
    const headers = { ...options.headers, host: url.host, ...(authorization ? { 'proxy-authorization': authorization } : {}) };
    const request = (secure ? httpsRequest : httpRequest)(
      {
        ...options,
        protocol: proxy.protocol,
        host: proxy.hostname,
        hostname: proxy.hostname,
        port: proxy.port || (secure ? 443 : 80),
        servername: proxy.hostname,
        path: `${url.protocol}//${url.host}${url.pathname}${url.search}`,
        headers,
        agent,
      },
      callback,
    );
    // 407 is the proxy's own answer; any other status is the server's (or the proxy's as its gateway).
    request.once('response', (response) => {
      if (response.statusCode !== 407) return;
      response.resume();
      request.destroy(proxyRefusal(proxy, 407));
    });
    return request;
  };
}

/** hpagent's CONNECT tunnel, whose refusal ("Bad response: 403") becomes a `ProxyRefusal` with the status. */
class RefusalAwareTunnel extends HttpsProxyAgent {
  readonly #proxy: URL;

  constructor(options: ConstructorParameters<typeof HttpsProxyAgent>[0]) {
    super(options);
    this.#proxy = new URL(String(options.proxy));
  }

  override createConnection(options: RequestOptions, callback?: (error: Error | null, socket: Duplex) => void): Duplex | null | undefined {
    return super.createConnection(options, (error: Error | null, socket: Duplex) => {
      const refused = error && /^Bad response: (\d{3})$/.exec(error.message);
      callback?.(refused ? proxyRefusal(this.#proxy, Number(refused[1])) : error, socket);
    });
  }
}

function proxyRefusal(proxy: URL, statusCode: number): ProxyRefusal {
  const where = redactUrl(proxy);
  return Object.assign(new Error(`Proxy ${where} refused the request with ${statusCode}`), { code: PROXY_REFUSED, statusCode, proxy: where } as const);
}

/** `Proxy-Authorization: Basic …` of the proxy URL's user:password (percent-decoded, as curl does). */
function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  return `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`;
}

/** A got error that carries a proxy's refusal: the refusal itself, or got's error wrapping it. */
export function proxyRefusalOf(error: unknown): ProxyRefusal | undefined {
  for (let current = error as { code?: unknown; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (current.code === PROXY_REFUSED && typeof (current as Partial<ProxyRefusal>).statusCode === 'number') return current as ProxyRefusal;
  }
  return undefined;
}
