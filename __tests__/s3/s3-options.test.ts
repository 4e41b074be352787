/**
 * The s3 options are strict like every mode's: a missing or misspelt field,
 * a part size S3 would refuse, a URL that names no object all fail at
 * construction, naming the option and never echoing a credential.
 */
import { describe, expect, test } from '@jest/globals';
import { BufferedHttpWritable, type BufferedHttpWritableOptions } from '../../lib/index.js';
import { resolveOptions } from '../../lib/options/resolve.js';
import { s3Target } from '../../lib/modes/s3/target.js';
import { completeDocument } from '../../lib/modes/s3/protocol.js';
import { decodeText, elementText, rootElement } from '../../lib/modes/s3/xml.js';
import { NodeSha256 } from '../../lib/modes/s3/signer.js';
import { createHash, createHmac } from 'node:crypto';

const credentials = { accessKeyId: 'AKIDOPTIONS', secretAccessKey: 'options-secret-value' };
const url = 'https://s3.example.test/bucket/key';

function refusal(options: object, target = url): string {
  try {
    new BufferedHttpWritable(target, options as BufferedHttpWritableOptions).destroy();
  } catch (error) {
    return (error as Error).message;
  }
  return 'accepted';
}

describe('refused at construction', () => {
  test.each<[string, object, RegExp, string]>([
    ['no s3 settings', { mode: 's3' }, /s3 is required in mode 's3'/, url],
    ['a misspelt s3 field', { mode: 's3', s3: { credentials, regoin: 'x' } }, /Unknown option 's3.regoin' \(did you mean 's3.region'\?\)/, url],
    [
      'a misspelt credentials field',
      { mode: 's3', s3: { credentials: { ...credentials, sessionTokn: 'x' } } },
      /Unknown option 's3.credentials.sessionTokn'/,
      url,
    ],
    ['no credentials', { mode: 's3', s3: {} }, /s3.credentials must be \{ accessKeyId, secretAccessKey, sessionToken\? \}/, url],
    [
      'an empty secret',
      { mode: 's3', s3: { credentials: { accessKeyId: 'a', secretAccessKey: '' } } },
      /s3.credentials.secretAccessKey must be a non-empty string/,
      url,
    ],
    ['a session token not a string', { mode: 's3', s3: { credentials: { ...credentials, sessionToken: 1 } } }, /sessionToken must be a string/, url],
    ['an expiration not a Date', { mode: 's3', s3: { credentials: { ...credentials, expiration: 'soon' } } }, /expiration must be a Date/, url],
    ['an unknown checksum', { mode: 's3', s3: { credentials, checksum: 'md5' } }, /s3.checksum must be one of 'crc32', 'crc32c', 'sha256'/, url],
    ['a bad region', { mode: 's3', s3: { credentials, region: 'EU West' } }, /s3.region must be a region name/, url],
    ['an empty content type', { mode: 's3', s3: { credentials, contentType: '' } }, /s3.contentType must be a media type/, url],
    [
      'a metadata name that is no header name',
      { mode: 's3', s3: { credentials, metadata: { 'a b': 'c' } } },
      /s3.metadata name "a b" must be a header name/,
      url,
    ],
    [
      'parts under 5 MiB',
      { mode: 's3', highWaterMark: 1024 * 1024, s3: { credentials } },
      /S3 takes parts of 5 MiB \(5242880\) to 5 GiB .* received 1048576/,
      url,
    ],
    ['a stream option', { mode: 's3', method: 'PUT', s3: { credentials } }, /'method' does not apply to mode 's3'/, url],
    ['s3 in another mode', { mode: 'batch', s3: { credentials } }, /'s3' does not apply to mode 'batch' \(it applies to 's3'\)/, url],
    ['a URL with a bucket and no key', { mode: 's3', s3: { credentials } }, /url must name an object/, 'https://s3.example.test/bucket/'],
    ['a virtual-hosted URL without a key', { mode: 's3', s3: { credentials } }, /url must name an object/, 'https://bucket.s3.eu-west-1.amazonaws.com/'],
  ])('%s', (_name, options, message, target) => {
    const text = refusal(options, target);
    expect(text).toMatch(message);
    expect(text).not.toContain(credentials.secretAccessKey);
  });
});

describe('defaults', () => {
  test('8 MiB parts, 4 in flight, crc32, the region of an AWS host, the parts kept only with a state file', () => {
    const resolved = resolveOptions('https://bucket.s3.eu-central-1.amazonaws.com/dir/a%20b.txt', { mode: 's3', s3: { credentials } });
    expect(resolved).toMatchObject({ mode: 's3', highWaterMark: 8 * 1024 * 1024, concurrency: 4, leavePartsOnError: false });
    if (resolved.mode !== 's3') throw new Error('not s3');
    expect(resolved.s3).toMatchObject({ region: 'eu-central-1', checksum: 'crc32', metadata: {} });
    expect(resolved.s3.target.url.href).toBe('https://bucket.s3.eu-central-1.amazonaws.com/dir/a%20b.txt');
    expect(resolveOptions(url, { mode: 's3', stateFile: '/tmp/x.json', s3: { credentials, checksum: false } })).toMatchObject({
      leavePartsOnError: true,
      s3: { checksum: false, region: 'us-east-1' },
    });
  });

  test('a credentials function is taken as it is, checked when it answers', () => {
    const provider = (): Promise<typeof credentials> => Promise.resolve(credentials);
    expect(resolveOptions(url, { mode: 's3', s3: { credentials: provider } })).toMatchObject({ s3: { credentials: provider } });
  });
});

describe('the object a URL names', () => {
  test.each([
    ['https://minio.local:9000/bucket/key', 'https://minio.local:9000/bucket/key', undefined],
    ["http://127.0.0.1:4568/b/it's (1)*.txt", 'http://127.0.0.1:4568/b/it%27s%20%281%29%2A.txt', undefined],
    ['https://s3.us-west-2.amazonaws.com/bucket/k', 'https://s3.us-west-2.amazonaws.com/bucket/k', 'us-west-2'],
    ['https://bucket.s3-eu-west-1.amazonaws.com/k?x=1', 'https://bucket.s3-eu-west-1.amazonaws.com/k', 'eu-west-1'],
    ['https://bucket.s3.amazonaws.com/k', 'https://bucket.s3.amazonaws.com/k', undefined],
  ])('%s', (given, sent, region) => {
    const target = s3Target(new URL(given));
    expect(target.url.href).toBe(sent);
    expect(target.hostRegion).toBe(region);
  });
});

describe('the XML of the multipart calls', () => {
  test('Complete lists every part with its ETag and checksum, escaped', () => {
    const xml = completeDocument(
      [
        { number: 1, size: 5, etag: '"a&b"', checksum: 'AAAA' },
        { number: 2, size: 1, etag: '"c"' },
      ],
      'crc32c',
    );
    expect(xml).toContain('<Part><PartNumber>1</PartNumber><ETag>&quot;a&amp;b&quot;</ETag><ChecksumCRC32C>AAAA</ChecksumCRC32C></Part>');
    expect(xml).toContain('<Part><PartNumber>2</PartNumber><ETag>&quot;c&quot;</ETag></Part>');
    expect(completeDocument([{ number: 1, size: 5, etag: 'e', checksum: 'AAAA' }], false)).not.toContain('Checksum');
  });

  test('the reader finds the root and decodes references; an unknown entity is refused', () => {
    expect(rootElement('<?xml version="1.0"?>\n<Error><Code>x</Code></Error>')).toBe('Error');
    expect(rootElement('not xml')).toBeUndefined();
    expect(elementText('<R><UploadId a="1">id&amp;&#65;&#x42;</UploadId></R>', 'UploadId')).toBe('id&AB');
    expect(elementText('<R/>', 'UploadId')).toBeUndefined();
    expect(() => decodeText('&nbsp;')).toThrow(/unknown XML entity &nbsp;/);
  });
});

describe("the signer's SHA-256 over node:crypto", () => {
  test('a hash and an HMAC of any byte view, reset between uses', async () => {
    const bytes = Buffer.from('abc');
    const hash = new NodeSha256();
    hash.update(new DataView(bytes.buffer, bytes.byteOffset, bytes.length));
    expect(Buffer.from(await hash.digest()).toString('hex')).toBe(createHash('sha256').update('abc').digest('hex'));
    hash.reset();
    hash.update('abc');
    expect(Buffer.from(await hash.digest()).toString('hex')).toBe(createHash('sha256').update('abc').digest('hex'));
    const hmac = new NodeSha256(new Uint8Array([1, 2]).buffer);
    hmac.update(bytes);
    expect(Buffer.from(await hmac.digest()).toString('hex')).toBe(
      createHmac('sha256', Buffer.from([1, 2]))
        .update('abc')
        .digest('hex'),
    );
  });
});
