import { redactSecrets, secretValues } from '../lib/redact.js';
import type { UploadArgs } from './args.js';
import { s3Secrets } from './s3.js';
import { basicAuthorization, proxySettings } from './connection.js';
import type { CliIo } from './io.js';

/**
 * What `bhw` prints, with every credential it was given (`-u`, credential
 * `-H` values, URL and proxy passwords, secret query values) shown as `[REDACTED]`, in the
 * server's answer too: a server that echoes them must not put them in logs.
 */
export class Output {
  readonly #io: CliIo;
  readonly #secrets: string[];
  readonly #showErrors: boolean;

  /** `showErrors` false (`-s`): `error()` lines are not printed. */
  constructor(io: CliIo, secrets: string[], showErrors = true) {
    this.#io = io;
    this.#secrets = secrets;
    this.#showErrors = showErrors;
  }

  redact(text: string): string {
    return redactSecrets(text, this.#secrets);
  }

  stdout(text: string): void {
    this.#io.stdout.write(this.redact(text));
  }

  stderr(line: string): void {
    this.#io.stderr.write(`${this.redact(line)}\n`);
  }

  /** A line about a failure or a risk: hidden by `-s` (curl's silent mode) unless `-S`. */
  error(line: string): void {
    if (this.#showErrors) this.stderr(line);
  }
}

/** The credentials this run was given, as the library's redaction rules find them. */
export function outputSecrets(args: UploadArgs, env: NodeJS.ProcessEnv): string[] {
  const headers: Array<Record<string, string>> = [args.headers];
  const urls: URL[] = [new URL(args.url)];
  if (args.resume && args.mode === 'tus') urls.push(new URL(args.resume));
  if (args.user) {
    headers.push({ authorization: basicAuthorization(args.user) });
    const user = new URL('http://localhost');
    user.password = args.user.password;
    urls.push(user);
  }
  const proxies = proxySettings(args, env);
  for (const proxy of [proxies.http, proxies.https]) if (proxy) urls.push(proxy);
  return [...secretValues(headers, urls, args.secretHeaders), ...s3Secrets(args, env)];
}
