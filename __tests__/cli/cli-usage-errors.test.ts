import { describe, expect, test } from '@jest/globals';
import { parseCliArgs, UsageError } from '../../cli/args.js';

const url = 'http://127.0.0.1:8080/upload';

describe('bhw refuses a malformed command line with a usage error that names the problem', () => {
  test.each<[string, string[], RegExp]>([
    ['no url', ['file.bin'], /^expected <file\|-> <url>, received 1 argument\(s\); see bhw --help$/],
    ['three positionals', ['a', 'b', url], /received 3 argument\(s\)/],
    ['an unknown option', ['--fast', 'f', url], /^unknown option --fast; see bhw --help$/],
    ['an unknown mode', ['--mode', 'ftp', 'f', url], /^--mode must be stream, batch, tus, s3 or azure-blob, received "ftp"$/],
    ['--content-length with stdin', ['--content-length', '-', url], /^--content-length needs a file/],
    ['a url that is not a URL', ['f', 'not a url'], /^url is not a valid URL: "not a url"$/],
    ['a url that is not http(s)', ['f', 'ftp://127.0.0.1/x'], /^url must be an http: or https: URL, received "ftp:\/\/127.0.0.1\/x"$/],
    ['a bad --resume URL', ['--resume', 'file:///tmp/x', 'f', url], /^--resume must be an http: or https: URL/],
    ['--concurrency not a number', ['--concurrency', 'two', 'f', url], /^--concurrency must be an integer of at least 1 or auto, received "two"$/],
    ['--concurrency 0', ['--concurrency', '0', 'f', url], /^--concurrency must be an integer of at least 1 or auto, received "0"$/],
    ['--flush-interval fractional', ['--flush-interval', '1.5', 'f', url], /^--flush-interval must be an integer of at least 1/],
    ['a header without a colon', ['-H', 'Authorization Bearer x', 'f', url], /^-H must look like 'Name: value', received "Authorization Bearer x"$/],
    ['a header with an empty name', ['-H', ': value', 'f', url], /^-H must look like 'Name: value'/],
    ['a header name with a space', ['-H', 'X Trace: 1', 'f', url], /^-H must look like 'Name: value'/],
    ['receive with an argument', ['receive', 'extra'], /^bhw receive takes no arguments, received "extra"$/],
    ['receive with a bad port', ['receive', '--port', 'http'], /^--port must be an integer of at least 0, received "http"$/],
    ['--retry in stream mode', ['--retry', '3', 'f', url], /^--retry applies to --mode batch, tus and azure-blob only/],
    ['--retry not a number', ['--mode', 'tus', '--retry', 'many', 'f', url], /^--retry must be an integer of at least 0, received "many"$/],
    ['--max-time not seconds', ['--max-time', '5s', 'f', url], /^--max-time must be a number of seconds such as 30 or 2\.5, received "5s"$/],
    ['--connect-timeout negative', ['--connect-timeout=-1', 'f', url], /^--connect-timeout must be a number of seconds/],
    ['--stall-timeout not seconds', ['--stall-timeout', 'never', 'f', url], /^--stall-timeout must be a number of seconds/],
    ['-u without a password', ['-u', 'alice', 'f', url], /^-u\/--user must be USER:PASSWORD \(bhw does not prompt for a password\)$/],
    ['--proxy not http(s)', ['--proxy', 'socks5://127.0.0.1:1080', 'f', url], /^--proxy must be an http: or https: URL/],
    ['--http2 with --proxy', ['--http2', '--proxy', 'http://127.0.0.1:3128', 'f', url], /^--http2 cannot go through --proxy/],
    ['--spool outside batch mode', ['--spool', 'spool', 'f', url], /^--spool applies to --mode batch only, received --mode stream$/],
    ['--spool with an empty directory', ['--mode', 'batch', '--spool', '', 'f', url], /^--spool needs a directory, received ""$/],
    ['--spool-fsync without --spool', ['--mode', 'batch', '--spool-fsync', 'f', url], /^--spool-fsync needs --spool DIR$/],
    ['--spool-max-bytes without --spool', ['--mode', 'batch', '--spool-max-bytes', '1MiB', 'f', url], /^--spool-max-bytes needs --spool DIR$/],
    ['--spool-max-bytes not a size', ['--mode', 'batch', '--spool', 's', '--spool-max-bytes', 'lots', 'f', url], /^--spool-max-bytes must be a size/],
  ])('%s', (_name, argv, message) => {
    let thrown: unknown;
    try {
      parseCliArgs(argv);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('bhw reads every upload option into its arguments', () => {
  test('all options given', () => {
    const argv = [
      '--mode',
      'batch',
      '-X',
      'put',
      '-H',
      'X-A: 1',
      '-H',
      'x-a: 2',
      '-H',
      'X-B:  spaced ',
      '--high-water-mark',
      '64KiB',
      '--concurrency',
      '3',
      '--flush-interval',
      '250',
      '--compress',
      'gzip',
      '--content-length',
      '--json',
      '--quiet',
      '--progress',
      '--retry',
      '2',
      '--spool',
      'spool',
      '--spool-max-bytes',
      '1GiB',
      '--spool-fsync',
      '--no-sha256',
      '-m',
      '2.5',
      '--connect-timeout',
      '0.25',
      '--stall-timeout',
      '0',
      '--http2',
      '--cacert',
      'ca.pem',
      '-k',
      '--noproxy',
      'a.example,b',
      '-u',
      'alice:pa:ss',
      'data.bin',
      url,
    ];
    expect(parseCliArgs(argv)).toEqual({
      command: 'upload',
      source: 'data.bin',
      url,
      mode: 'batch',
      method: 'put',
      // A repeated name joins its values (RFC 9110 §5.3) under the first spelling.
      headers: { 'X-A': '1, 2', 'X-B': 'spaced' },
      highWaterMark: 64 * 1024,
      concurrency: 3,
      flushInterval: 250,
      compress: 'gzip',
      contentLength: true,
      json: true,
      quiet: true,
      progress: true,
      retry: 2,
      spool: { dir: 'spool', maxBytes: 1024 ** 3, fsync: true },
      sha256: false,
      maxTime: 2500,
      connectTimeout: 250,
      stallTimeout: 0,
      http2: true,
      cacert: 'ca.pem',
      insecure: true,
      noProxy: 'a.example,b',
      // Split at the first colon: a password may hold colons.
      user: { name: 'alice', password: 'pa:ss' },
      argv,
      showErrors: true,
      fail: false,
      verbose: false,
    });
  });

  test('nothing but the source and url: the defaults', () => {
    expect(parseCliArgs(['-', url])).toEqual({
      command: 'upload',
      source: '-',
      url,
      mode: 'stream',
      headers: {},
      contentLength: false,
      stallTimeout: 60_000,
      http2: false,
      insecure: false,
      json: false,
      quiet: false,
      progress: false,
      sha256: false,
      argv: ['-', url],
      showErrors: true,
      fail: false,
      verbose: false,
    });
  });

  test('--help and --version win over everything else', () => {
    expect(parseCliArgs(['--help', 'f'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['-h'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['--version'])).toEqual({ command: 'version' });
    expect(parseCliArgs(['receive', '--help'])).toEqual({ command: 'help' });
  });

  test('receive defaults to port 8080 and ./received', () => {
    expect(parseCliArgs(['receive'])).toEqual({ command: 'receive', port: 8080, dir: 'received' });
  });
});
