import { readFileSync } from 'node:fs';
import got, { type ExtendOptions, type Got } from 'got';
import { throughProxy } from '../lib/http/proxy.js';
import { checkUrl, UsageError, type UploadArgs } from './args.js';
import { withDefaultScheme } from './flag-values.js';

/** What the connection options make: the got instance the upload goes through, and what to tell the user. */
export interface Connection {
  got: Got;
  /** Warnings for stderr (`-k`). */
  notices: string[];
}

/**
 * One got instance from curl's connection options: timeouts (`--connect-timeout`),
 * TLS (`--cacert`, `-k`), the proxy (`--proxy`, `--noproxy`, the `*_proxy`
 * environment variables; routed by the library's `throughProxy`), `--http2`
 * and `-u`. The library passes it on to every request it makes.
 */
export function connectionFor(args: UploadArgs, env: NodeJS.ProcessEnv): Connection {
  const options: ExtendOptions = {};
  const notices: string[] = [];
  if (args.connectTimeout) {
    // curl's connect phase ends after the TLS handshake; got times each step.
    const ms = args.connectTimeout;
    options.timeout = { lookup: ms, connect: ms, secureConnect: ms };
  }
  if (args.cacert !== undefined) options.https = { certificateAuthority: readCertificates(args.cacert) };
  if (args.insecure) {
    options.https = { ...options.https, rejectUnauthorized: false };
    notices.push("bhw: warning: -k/--insecure: the server's TLS certificate is not verified, so anyone on the path can read and change the upload");
  }
  if (args.http2) options.http2 = true;
  if (args.user) options.headers = { authorization: basicAuthorization(args.user) };

  const proxies = proxySettings(args, env);
  const instance = got.extend(options);
  if (!proxies.http && !proxies.https) return { got: instance, notices };
  if (args.http2) throw new UsageError(`--http2 cannot go through a proxy, and ${proxies.source} names one: unset it or list the host in --noproxy`);
  // As curl: http targets in absolute form, https through CONNECT; NO_PROXY judged per request.
  const proxied = throughProxy(instance, { http: proxies.http, https: proxies.https, bypass: (url) => bypassesProxy(url, proxies.noProxy) });
  return { got: proxied, notices };
}

/** `Authorization: Basic …` of `-u USER:PASSWORD` (RFC 7617). */
export function basicAuthorization({ name, password }: { name: string; password: string }): string {
  return `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
}

function readCertificates(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    throw new UsageError(`--cacert: cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

export interface ProxySettings {
  http?: URL;
  https?: URL;
  /** `NO_PROXY` entries: host names (with their subdomains), `host:port`, or `*`. */
  noProxy: string[];
  /** Where the proxy came from, for messages: `--proxy` or the variable's name. */
  source?: string;
}

/**
 * The proxy for each scheme, as curl picks it: `--proxy` for both (`""` for
 * none), else `https_proxy`/`HTTPS_PROXY` and `http_proxy`/`HTTP_PROXY`
 * (lower case first), and `--noproxy` or else `no_proxy`/`NO_PROXY`.
 */
export function proxySettings(args: Pick<UploadArgs, 'proxy' | 'noProxy'>, env: NodeJS.ProcessEnv): ProxySettings {
  const noProxy = (args.noProxy ?? env.no_proxy ?? env.NO_PROXY ?? '')
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '');
  const settings: ProxySettings = { noProxy };
  if (args.proxy !== undefined) {
    if (args.proxy === '') return settings;
    const url = new URL(args.proxy);
    return { ...settings, http: url, https: url, source: '--proxy' };
  }
  for (const scheme of ['https', 'http'] as const) {
    const name = [`${scheme}_proxy`, `${scheme.toUpperCase()}_PROXY`].find((key) => env[key]);
    if (!name) continue;
    settings[scheme] = parseProxyVariable(name, env[name]!);
    settings.source ??= name;
  }
  return settings;
}

/** A proxy variable's URL; like curl, a bare `host:port` means http. */
function parseProxyVariable(name: string, value: string): URL {
  return checkUrl(name, withDefaultScheme(value));
}

/** Whether `url` is reached directly: its host (or a parent domain, or `host:port`) is listed, or the list is `*`. */
export function bypassesProxy(url: URL, noProxy: readonly string[]): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return noProxy.some((entry) => {
    if (entry === '*') return true;
    const [entryHost, entryPort] = splitHostPort(entry);
    const name = entryHost.replace(/^\*?\./, '');
    if (entryPort !== undefined && entryPort !== port) return false;
    return host === name || host.endsWith(`.${name}`);
  });
}

/** `host:port`, `[v6]:port`, or a bare host (an IPv6 address without brackets has no port). */
function splitHostPort(entry: string): [string, string | undefined] {
  const bracketed = /^\[(.*)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return [bracketed[1]!, bracketed[2]];
  const parts = entry.split(':');
  return parts.length === 2 ? [parts[0]!, parts[1]] : [entry, undefined];
}
