/**
 * The rules of lib/redact.ts one by one: exact matching of secrets of any
 * length, the documented secret query parameters, and how `secretHeaders` and
 * `--secret-header` are checked.
 */
import { describe, expect, test } from '@jest/globals';
import { resumeCommand } from '../../cli/report.js';
import { parseCliArgs, UsageError } from '../../cli/args.js';
import { BufferedHttpWritable } from '../../lib/index.js';
import { REDACTED, hasUrlCredentials, isSecretQueryParameter, redactSecrets, redactUrl, secretValues } from '../../lib/redact.js';

describe('redactSecrets: every known value, exactly, however short', () => {
  test('a 1-character secret is blanked wherever it occurs, also inside other words', () => {
    expect(redactSecrets('pass=x; box', ['x'])).toBe(`pass=${REDACTED}; bo${REDACTED}`);
  });

  test('matching is case-sensitive and the empty string is never a secret', () => {
    expect(redactSecrets('Secret secret', ['secret', ''])).toBe(`Secret ${REDACTED}`);
  });

  test('overlapping and adjacent secrets become one marker, leaving no piece of either', () => {
    expect(redactSecrets('..xxabyy..', ['xxab', 'abyy'])).toBe(`..${REDACTED}..`);
    expect(redactSecrets('aaa', ['aa'])).toBe(REDACTED);
  });

  test('a secret that is part of the marker does not mangle markers already placed', () => {
    expect(redactSecrets('long-secret and RED', ['long-secret', 'RED'])).toBe(`${REDACTED} and ${REDACTED}`);
  });

  test('text without a secret comes back as it is', () => {
    expect(redactSecrets('nothing here', ['abc'])).toBe('nothing here');
  });
});

describe('redactUrl: user:password removed, secret query values [REDACTED], the rest as written', () => {
  test('names are compared without case and after decoding; values of other parameters are kept byte for byte', () => {
    expect(redactUrl('https://u:p@h/x?a=1%202&TOKEN=t&x%2Damz%2Dsignature=s&b=c+d#frag')).toBe(
      `https://h/x?a=1%202&TOKEN=${REDACTED}&x%2Damz%2Dsignature=${REDACTED}&b=c+d#frag`,
    );
  });

  test('a URL without secrets is unchanged', () => {
    expect(redactUrl('http://h/x?part=1&keyboard=2')).toBe('http://h/x?part=1&keyboard=2');
  });

  test('the documented names are secret, others are not', () => {
    for (const name of ['token', 'Access_Token', 'sig', 'signature', 'X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Security-Token', 'code', 'key', 'api_key'])
      expect(isSecretQueryParameter(name)).toBe(true);
    for (const name of ['part', 'se', 'sv', 'keyboard']) expect(isSecretQueryParameter(name)).toBe(false);
  });
});

describe('secretValues: what an echo must not show', () => {
  test("a URL's password as written and decoded, got's Basic header of it, and its secret query values as written and decoded", () => {
    const values = secretValues([], [new URL('http://al%20ice:p%40ss@h/?sig=a%2Bb&part=1')]);
    expect(values).toEqual(expect.arrayContaining(['p@ss', 'p%40ss', Buffer.from('al ice:p@ss').toString('base64'), 'a%2Bb', 'a+b']));
    expect(values).not.toContain('1');
    expect(values).not.toContain('al ice');
  });

  test('a value that is not valid percent-encoding counts as written', () => {
    expect(secretValues([], [new URL('http://h/?sig=%ZZ1')])).toEqual(['%ZZ1']);
    expect(redactUrl('http://h/?sig=%ZZ1')).toBe(`http://h/?sig=${REDACTED}`);
  });

  test('hasUrlCredentials: a user or a password, and never a throw', () => {
    expect(hasUrlCredentials('http://u@h/')).toBe(true);
    expect(hasUrlCredentials('http://h/?token=t')).toBe(false);
    expect(hasUrlCredentials('not a url')).toBe(false);
  });

  test('a user without a password is a token', () => {
    expect(secretValues([], [new URL('https://ghp_token123@h/')])).toContain('ghp_token123');
  });

  test('declared secret headers count, in any case', () => {
    expect(secretValues([{ 'X-Signature': 'v1', 'X-Other': 'v2' }], [], ['x-SIGNATURE'])).toEqual(['v1']);
  });
});

describe('secretHeaders and --secret-header are checked', () => {
  test.each([
    ['a string', 'X-Api-Key', 'secretHeaders must be an array of header names, received "X-Api-Key"'],
    ['a name with a space', ['X Key'], 'secretHeaders[0] must be a header name, received "X Key"'],
    ['a number', [1], 'secretHeaders[0] must be a header name, received number 1'],
  ])('%s: TypeError', (_label, value, message) => {
    expect(() => new BufferedHttpWritable('http://h/', { secretHeaders: value as string[] })).toThrow(new TypeError(message));
  });

  test('--secret-header with a bad name is bad usage', () => {
    expect(() => parseCliArgs(['--secret-header', 'a:b', 'f', 'http://h/'])).toThrow(new UsageError('--secret-header must be a header name, received "a:b"'));
  });

  test('the resume command hides the value of a -H named by --secret-header, and the query secrets of the URLs', () => {
    const argv = ['--secret-header', 'x-signature', '-H', 'X-Signature: s3cret', '-H', 'X-Trace: 1', '--mode', 'tus', 'f', 'http://h/tus?token=t0k'];
    const { command, redacted } = resumeCommand(argv, 'http://h/tus/1');
    expect(command).toBe(
      `bhw --resume http://h/tus/1 --secret-header x-signature -H 'X-Signature: ${REDACTED}' -H 'X-Trace: 1' --mode tus f 'http://h/tus?token=${REDACTED}'`,
    );
    expect(redacted).toBe(true);
  });
});
