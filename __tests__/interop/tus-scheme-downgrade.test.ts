/**
 * A promise the interop suite found broken: a tus upload URL that turns https into http must
 * be refused with a coded error that says so, never followed in cleartext.
 * @tus/server behind Caddy terminating TLS builds `Location: http://…` from the
 * plain request it sees (FACTS.md). The library must not send the PATCH there.
 *
 * Failed before the fix: the PATCH went out in cleartext to the TLS port and failed with
 * ERR_BHW_NETWORK (HPE_CLOSED_CONNECTION or similar), which says nothing of the cause.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { makeCertificates } from '../helpers/tls.js';
import { stopAll } from './harness.js';
import { startCaddy, startUpstreams, type Upstreams } from './servers.js';
import { boundedGot, upload } from './uploads.js';

const certs = makeCertificates();
const client = boundedGot({ https: { certificateAuthority: certs.ca } });
let upstreams: Upstreams;
let httpsBase: string;

beforeAll(async () => {
  upstreams = await startUpstreams({ relativeLocation: false });
  ({ httpsBase } = await startCaddy('caddy-downgrade', upstreams, certs));
});
afterAll(async () => {
  await stopAll();
  await upstreams?.close();
});

describe('tus behind a TLS-terminating proxy whose Location says http://', () => {
  test('the upload is refused with a coded error naming the downgrade; no PATCH is sent', async () => {
    const outcome = await upload(`${httpsBase}/files`, { got: client, mode: 'tus' });
    expect(outcome.finished).toBe(false);
    // The server really did hand out an http:// Location for an https:// upload.
    expect(upstreams.tus.created).toHaveLength(1);
    expect(upstreams.tus.requests.filter((request) => request.method === 'PATCH')).toEqual([]);
    const { code, message } = outcome.error ?? ({} as Record<string, unknown>);
    expect({ code, message }).toEqual({
      code: expect.not.stringMatching(/^ERR_BHW_NETWORK$/),
      message: expect.stringMatching(/https.*http:|http:.*https|downgrade/i),
    });
    expect(code).toMatch(/^ERR_BHW_/);
  });
});
