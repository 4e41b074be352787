import { afterEach, describe, expect, test } from '@jest/globals';
import got from 'got';
import { inspect } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, HttpStatusError, type UploadMode } from '../../lib/index.js';
import { readableOf } from '../helpers/data.js';
import { readBody, startSink, type Sink } from '../helpers/sink-server.js';

const TOKEN = 'tok-9f8e7d6c5b4a';
const COOKIE = 'session=c00kie-value-123';

let sink: Sink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

describe('a server that echoes the request headers in its error body', () => {
  test.each<UploadMode>(['stream', 'batch', 'tus'])('%s: the error shows the answer with the credentials replaced', async (mode) => {
    // A debugging endpoint: answers 400 with every header it received.
    sink = await startSink((request, response) => {
      void readBody(request).then(() => {
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: 'bad upload', headers: request.headers }));
      });
    });
    const upload = new BufferedHttpWritable(sink.url, {
      mode,
      headers: { authorization: `Bearer ${TOKEN}` },
      got: got.extend({ headers: { cookie: COOKIE } }),
    });
    const error = await pipeline(readableOf(['record\n']), upload).catch((e: Error) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    const seen = `${(error as HttpStatusError).body}\n${error!.message}\n${inspect(error)}\n${JSON.stringify(error)}`;
    expect(seen).toContain('bad upload');
    expect(seen).toContain('[REDACTED]');
    expect(seen).not.toContain(TOKEN);
    expect(seen).not.toContain('c00kie-value-123');
  });
});
