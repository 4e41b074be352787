/**
 * The SAS in a blob URL is a secret: its `sig` never appears in an error (its
 * message, fields, cause or stack), an event, a diagnostics message, or any
 * line of the CLI, whether the service refuses the request (a SAS whose
 * signature is wrong: 403) or the connection fails.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BufferedHttpWritable, DiagnosticsChannels } from '../../lib/index.js';
import { runCli } from '../helpers/cli.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { runUpload } from '../helpers/outcome.js';
import { startAzurite, type Azurite } from './azurite.js';

/** A signature of the right shape that the service does not accept, with characters that are percent-encoded in a URL. */
const WRONG_SIG = 'Wr0ngS1gnature+Of/The=Right+Shape0123456789ab=';
const WRONG_SIG_IN_URL = encodeURIComponent(WRONG_SIG);

let azurite: Azurite;
let dir: string;

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'bhw-azure-sas-'));
}, 300_000);

afterAll(async () => {
  await azurite?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The same SAS with its signature replaced: the service answers 403. */
async function wrongSasUrl(): Promise<{ url: string; realSig: string }> {
  const url = new URL(await azurite.blobUrl('secret.bin'));
  const realSig = url.searchParams.get('sig')!;
  return { url: url.href.replace(/sig=[^&]*/, `sig=${WRONG_SIG_IN_URL}`), realSig };
}

/** Every form of the secret that could leak: as sent in the URL, decoded, and its longest base64 run. */
function expectNoSig(text: string, ...sigs: string[]): void {
  for (const sig of [WRONG_SIG, WRONG_SIG_IN_URL, 'Wr0ngS1gnature', ...sigs]) expect(text).not.toContain(sig);
}

/** Everything the library says while `run` goes: diagnostics messages, events and the error in every form. */
async function everythingSaid(url: string, options: object): Promise<{ text: string; error: Error | undefined }> {
  const said: string[] = [];
  const listener = (message: unknown): void => void said.push(inspect(message, { depth: 8 }));
  for (const channel of Object.values(DiagnosticsChannels)) subscribe(channel, listener);
  try {
    const upload = new BufferedHttpWritable(url, { mode: 'azure-blob', highWaterMark: 64 * 1024, ...options });
    for (const event of ['progress', 'response']) upload.on(event, (value: unknown) => said.push(inspect(value, { depth: 8 })));
    const { error } = await runUpload(upload, chunksOf(pattern(5 * 64 * 1024), [8192]));
    if (error) said.push(error.message, error.stack ?? '', inspect(error, { depth: 8 }), JSON.stringify(error));
    return { text: said.join('\n'), error };
  } finally {
    for (const channel of Object.values(DiagnosticsChannels)) unsubscribe(channel, listener);
  }
}

describe('azure-blob: the SAS never shows', () => {
  test('a SAS the service refuses (403): no sig in the error, the events or the diagnostics', async () => {
    const { url } = await wrongSasUrl();
    const { text, error } = await everythingSaid(url, { retry: { limit: 0 } });
    expect(error).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 403 });
    expect(text).toContain('sig=[REDACTED]');
    expectNoSig(text);
  });

  test('a connection that fails: no sig in the network error (nor in its cause)', async () => {
    const { url } = await wrongSasUrl();
    // Nothing listens on port 9 of the loopback.
    const refused = url.replace(/:\d+\//, ':9/');
    const { text, error } = await everythingSaid(refused, { retry: { limit: 0 } });
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK' });
    expectNoSig(text);
  });

  test('bhw with -v, and with --json: no sig on stdout or stderr, the failure said', async () => {
    const { url } = await wrongSasUrl();
    const file = join(dir, 'data.bin');
    await writeFile(file, pattern(300_000));
    for (const flags of [['-v'], ['--json'], ['--progress']]) {
      const result = await runCli(['--mode', 'azure-blob', '--high-water-mark', '64KiB', '--retry', '0', ...flags, file, url]);
      expect(result.code).toBe(1);
      expect(`${result.stdout}${result.stderr}`).toMatch(/403/);
      expectNoSig(`${result.stdout}\n${result.stderr}`);
    }
  });

  test('bhw --resume STATE refused by the service: says how to continue, and the state file holds no sig', async () => {
    const { url } = await wrongSasUrl();
    const file = join(dir, 'data.bin');
    await writeFile(file, pattern(300_000));
    const state = join(dir, 'refused.json');
    const result = await runCli(['--mode', 'azure-blob', '--high-water-mark', '64KiB', '--retry', '0', '--resume', state, file, url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`bhw: the stored blocks are recorded in ${state}: run the same command again to continue`);
    expectNoSig(`${result.stdout}\n${result.stderr}\n${await readFile(state, 'utf8')}`);
    expect(JSON.parse(await readFile(state, 'utf8'))).toMatchObject({ target: url.slice(0, url.indexOf('?')), parts: [] });
  });

  test('bhw with a valid SAS: the upload succeeds and -v shows every request without its sig', async () => {
    const url = await azurite.blobUrl('ok.bin');
    const realSig = new URL(url).searchParams.get('sig')!;
    const file = join(dir, 'ok.bin');
    await writeFile(file, pattern(200_000));
    const result = await runCli(['--mode', 'azure-blob', '--high-water-mark', '64KiB', '-v', '--json', file, url]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/> PUT \/devstoreaccount1\/\S+\?\S*sig=\[REDACTED\]\S*comp=block/);
    expectNoSig(`${result.stdout}\n${result.stderr}`, realSig, encodeURIComponent(realSig));
  });
});
