/**
 * Every route by which a credential reaches a request is redacted when a
 * server echoes it back: URL user:password (and the Basic header got makes of
 * it), got.extend({ username, password }), a password of 3 characters, secret
 * query parameters, a declared secret header, an X-Api-Key, and a header a got
 * hook sets. The echo is looked for in the error (message, stack, body,
 * JSON.stringify, util.inspect), the upload:error and upload:start
 * diagnostics messages, 'progress' payloads and a spool's rejected/<key>.json,
 * while the server still receives the real credentials and query string.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import got, { type Got } from 'got';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { BufferedHttpWritable, DiagnosticsChannels, HttpStatusError, type BufferedHttpWritableOptions, type UploadMode } from '../../lib/index.js';
import { REDACTED } from '../../lib/redact.js';
import { pattern } from '../helpers/data.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { readBody, sha256, startSink, type Sink } from '../helpers/sink-server.js';
import { startTusServer } from '../helpers/tus-server.js';

const closer = new Closer();
afterEach(() => closer.closeAll());

/** Messages of the two diagnostics channels that name the upload's URL and its error. */
const published: Array<{ channel: string; message: Record<string, unknown> }> = [];
const listeners = [DiagnosticsChannels.uploadStart, DiagnosticsChannels.uploadError].map((channel) => {
  const listener = (message: unknown): void => void published.push({ channel, message: message as Record<string, unknown> });
  return { channel, listener };
});
beforeAll(() => listeners.forEach(({ channel, listener }) => diagnosticsChannel.subscribe(channel, listener)));
afterAll(() => listeners.forEach(({ channel, listener }) => diagnosticsChannel.unsubscribe(channel, listener)));

/** What the echoing server received: the request line's target and the headers. */
interface Seen {
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A debugging endpoint: answers 400 with the URL, every header and the decoded Basic credentials it received. */
async function startEcho(seen: Seen[]): Promise<Sink> {
  return closer.add(
    await startSink((request, response) => {
      void readBody(request).then(() => {
        seen.push({ url: request.url ?? '', headers: request.headers });
        const basic = Buffer.from((request.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: 'refused', url: request.url, headers: request.headers, basic }));
      });
    }),
  );
}

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}

/** `url` with user and password. */
function withLogin(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.href;
}

interface Route {
  /** The upload's URL and options, given the echoing server's URL. */
  make(url: string): { url: string; options: BufferedHttpWritableOptions };
  /** Values that must never be shown. */
  secrets: string[];
  /** What the server must have received, proving the route carried the credential. */
  received(seen: Seen): void;
}

const hookToken: Got = got.extend({
  hooks: {
    beforeRequest: [
      (options) => {
        options.headers.authorization = 'Bearer hook-made-token-55';
      },
    ],
  },
});

const routes: Record<string, Route> = {
  'user:password in the URL': {
    make: (url) => ({ url: withLogin(url, 'alice', 'LONGPASS99'), options: {} }),
    secrets: ['LONGPASS99', base64('alice:LONGPASS99')],
    received: (seen) => expect(seen.headers.authorization).toBe(`Basic ${base64('alice:LONGPASS99')}`),
  },
  'got.extend({ username, password })': {
    make: (url) => ({ url, options: { got: got.extend({ username: 'bob', password: 'GOTPASS77' }) } }),
    secrets: ['GOTPASS77', base64('bob:GOTPASS77')],
    received: (seen) => expect(seen.headers.authorization).toBe(`Basic ${base64('bob:GOTPASS77')}`),
  },
  'a 3-character password': {
    make: (url) => ({ url: withLogin(url, 'carol', 'q7z'), options: {} }),
    secrets: ['q7z', base64('carol:q7z')],
    received: (seen) => expect(seen.headers.authorization).toBe(`Basic ${base64('carol:q7z')}`),
  },
  'secret query parameters (token, sig, X-Amz-Signature)': {
    make: (url) => ({ url: `${url}/up?part=1&token=QTOKEN123&sig=SASSIG456&X-Amz-Signature=AMZSIG789`, options: {} }),
    secrets: ['QTOKEN123', 'SASSIG456', 'AMZSIG789'],
    received: (seen) => expect(seen.url).toBe('/up?part=1&token=QTOKEN123&sig=SASSIG456&X-Amz-Signature=AMZSIG789'),
  },
  'a declared secret header and X-Api-Key': {
    make: (url) => ({
      url,
      options: { secretHeaders: ['X-Signature'], headers: { 'X-Signature': 'HDRSIG-4242', 'X-Api-Key': 'APIKEY-31337' } },
    }),
    secrets: ['HDRSIG-4242', 'APIKEY-31337'],
    received: (seen) => expect(seen.headers).toMatchObject({ 'x-signature': 'HDRSIG-4242', 'x-api-key': 'APIKEY-31337' }),
  },
  'an Authorization header set by a got hook': {
    make: (url) => ({ url, options: { got: hookToken } }),
    secrets: ['hook-made-token-55'],
    received: (seen) => expect(seen.headers.authorization).toBe('Bearer hook-made-token-55'),
  },
};

/** Every way a value may be shown or serialised. */
function renderings(value: unknown): string[] {
  const shown = [JSON.stringify(value) ?? '', inspect(value, { depth: Infinity, showHidden: true, getters: true })];
  if (value instanceof Error) {
    shown.push(value.message, value.stack ?? '', String(value));
    if (value.cause !== undefined) shown.push(...renderings(value.cause));
  }
  return shown;
}

function expectNone(secrets: string[], texts: string[]): void {
  for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret);
}

const modes: UploadMode[] = ['stream', 'batch', 'tus'];
const data = pattern(3000);

describe.each(Object.entries(routes))('%s', (_label, route) => {
  test.each(modes)('%s: error, diagnostics, progress and the rejected batch show [REDACTED]', async (mode) => {
    const seen: Seen[] = [];
    const sink = await startEcho(seen);
    const spoolDir = mode === 'batch' ? await mkdtemp(join(tmpdir(), 'bhw-redact-')) : undefined;
    if (spoolDir) closer.add({ close: () => rm(spoolDir, { recursive: true, force: true }) });
    const { url, options } = route.make(sink.url);
    const upload = new BufferedHttpWritable(url, {
      mode,
      ...options,
      ...(spoolDir ? { spool: { dir: spoolDir }, retry: { limit: 0 } } : {}),
    } as BufferedHttpWritableOptions);
    const progress: unknown[] = [];
    upload.on('progress', (snapshot) => progress.push(snapshot));
    published.length = 0;

    const { error } = await runUpload(upload, [data]);

    expect(error).toBeInstanceOf(HttpStatusError);
    expect(seen.length).toBeGreaterThan(0);
    route.received(seen[0]!);
    // The echo is there, with the secrets replaced.
    expect(error!.body).toContain('refused');
    expect(error!.body).toContain(REDACTED);
    const mine = published.filter(({ message }) => message.upload === upload);
    expect(mine.map(({ channel }) => channel)).toEqual([DiagnosticsChannels.uploadStart, DiagnosticsChannels.uploadError]);
    const texts = [...renderings(error), ...renderings(progress), ...mine.flatMap(({ message }) => renderings({ ...message, upload: undefined }))];
    const uploadError = mine[1]!.message.error as Error;
    texts.push(...renderings(uploadError));
    if (spoolDir) {
      const rejected = (await readdir(join(spoolDir, 'rejected'))).filter((name) => name.endsWith('.json'));
      expect(rejected).toHaveLength(1);
      const about = await readFile(join(spoolDir, 'rejected', rejected[0]!), 'utf8');
      expect(about).toContain(REDACTED);
      texts.push(about);
    }
    expectNone(route.secrets, texts);
  });
});

describe('URLs shown in errors and events', () => {
  test("secret query values are [REDACTED] in the diagnostics url; other parameters and the server's URL stay as they are", async () => {
    const seen: Seen[] = [];
    const sink = await startEcho(seen);
    const upload = new BufferedHttpWritable(`${sink.url}/up?part=1&Access_Token=abc&X-Amz-Credential=AKIA%2F2024&code=fn-key`, { mode: 'batch' });
    published.length = 0;
    await runUpload(upload, [data]);
    const start = published.find(({ message, channel }) => message.upload === upload && channel === DiagnosticsChannels.uploadStart)!;
    expect(start.message.url).toBe(`${sink.url}/up?part=1&Access_Token=${REDACTED}&X-Amz-Credential=${REDACTED}&code=${REDACTED}`);
    expect(seen[0]!.url).toBe('/up?part=1&Access_Token=abc&X-Amz-Credential=AKIA%2F2024&code=fn-key');
  });

  test('tus: a Location signed in its query is followed as given and shown [REDACTED] in uploadUrl, progress and the error', async () => {
    const patches: Seen[] = [];
    const server = closer.add(
      await startSink((request, response) => {
        void readBody(request).then(() => {
          if (request.method === 'POST') {
            response.writeHead(201, { location: '/files/1?se=2030&sig=LOCSIG321', 'tus-resumable': '1.0.0' });
            response.end();
            return;
          }
          patches.push({ url: request.url ?? '', headers: request.headers });
          response.writeHead(400, { 'content-type': 'text/plain' });
          response.end(`cannot PATCH ${request.url}`);
        });
      }),
    );
    const upload = new BufferedHttpWritable(`${server.url}/files`, { mode: 'tus' });
    const progress: unknown[] = [];
    upload.on('progress', (snapshot) => progress.push(snapshot));
    const { error } = await runUpload(upload, [data]);

    expect(patches[0]!.url).toBe('/files/1?se=2030&sig=LOCSIG321');
    const shown = `${server.url}/files/1?se=2030&sig=${REDACTED}`;
    expect(upload.uploadUrl).toBe(shown);
    expect(error).toMatchObject({ uploadUrl: shown, body: `cannot PATCH /files/1?se=2030&sig=${REDACTED}` });
    expectNone(['LOCSIG321'], [...renderings(error), ...renderings(progress)]);
  });
});

describe('tus: secret headers and got credentials never follow a Location on another origin', () => {
  test('the storage origin gets the bytes, X-Trace, and no X-Api-Key, declared secret header or Basic header of got.extend({ username, password })', async () => {
    const storage = closer.add(await startTusServer());
    // The endpoint the caller authenticates to creates the upload on a storage
    // host of another origin and answers with its Location, as some gateways do.
    const endpoint = closer.add(
      await startSink((request, response) => {
        void readBody(request).then(async () => {
          const created = await got.post(storage.url, { headers: { 'tus-resumable': '1.0.0', 'upload-defer-length': '1' }, throwHttpErrors: false });
          response.writeHead(201, { location: created.headers.location!, 'tus-resumable': '1.0.0' });
          response.end();
        });
      }),
    );
    expect(new URL(endpoint.url).origin).not.toBe(new URL(storage.url).origin);

    const upload = new BufferedHttpWritable(`${endpoint.url}/files`, {
      mode: 'tus',
      highWaterMark: 1024,
      secretHeaders: ['x-signature'],
      headers: { 'X-Api-Key': 'endpoint-only-key', 'X-Signature': 'endpoint-only-signature', 'x-trace': 'kept' },
      got: got.extend({ username: 'bob', password: 'endpoint-only-password', headers: { 'x-signature': 'instance-signature' } }),
    });
    const { error } = await runUpload(upload, [data]);
    expect(error).toBeUndefined();

    expect((await storage.stored(upload.uploadUrl!)).sha256).toBe(sha256(data));
    const patches = storage.requests.filter((request) => request.method === 'PATCH');
    expect(patches.length).toBeGreaterThan(1);
    for (const { headers } of patches) {
      expect(headers['x-api-key']).toBeUndefined();
      expect(headers['x-signature']).toBeUndefined();
      expect(headers.authorization).toBeUndefined();
      expect(headers['x-trace']).toBe('kept');
    }
  });
});
