import { describe, expect, test } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import got from 'got';
import { runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';

const first = pattern(300_000, 1);
const fx = useCliFixture(first, { sink: false });

async function receive(store: string): Promise<{ receiver: CliProcess; url: string }> {
  const receiver = spawnCli(['receive', '--port', '0', '--dir', store]);
  const [, url] = await receiver.waitFor('stdout', /listening on (http:\/\/127\.0\.0\.1:\d+) /);
  return { receiver, url: url! };
}

async function stop(receiver: CliProcess): Promise<void> {
  receiver.child.kill('SIGTERM');
  expect((await receiver.exited).code).toBe(0);
}

describe('bhw receive keeps every upload', () => {
  test('restarted on the same --dir, it takes the next free name instead of overwriting', async () => {
    const store = join(fx.dir, 'store');
    const second = pattern(200_000, 2);
    const secondFile = join(fx.dir, 'second.bin');
    await writeFile(secondFile, second);

    const one = await receive(store);
    expect((await runCli([fx.file, `${one.url}/a`])).code).toBe(0);
    await stop(one.receiver);
    const two = await receive(store);
    const result = await runCli(['--json', secondFile, `${two.url}/a`]);
    await stop(two.receiver);

    expect(result.code).toBe(0);
    expect(JSON.parse((JSON.parse(result.stdout) as { body: string }).body)).toMatchObject({ file: 'stream-2.bin' });
    expect(sha256(await readFile(join(store, 'stream-1.bin')))).toBe(sha256(first));
    expect(sha256(await readFile(join(store, 'stream-2.bin')))).toBe(sha256(second));
  });

  test('GET of a finished tus upload, read in part, is answered 405 and the server keeps serving', async () => {
    const { receiver, url } = await receive(join(fx.dir, 'store'));
    const upload = await runCli(['--json', '--mode', 'tus', fx.file, `${url}/tus`]);
    const { uploadUrl } = JSON.parse(upload.stdout) as { uploadUrl: string };

    // A reader that goes away after the first bytes, as `curl URL | head -c 10` does.
    const status = await new Promise<number>((resolve, reject) => {
      request(uploadUrl, (response) => {
        resolve(response.statusCode!);
        response.destroy();
      })
        .on('error', reject)
        .end();
    });
    const head = await got(`${url}/anything`, { method: 'HEAD', throwHttpErrors: false, retry: { limit: 0 } });
    const again = await runCli([fx.file, `${url}/after`]);
    await stop(receiver);

    expect(status).toBe(405);
    expect(head.statusCode).toBe(405);
    expect(again.code).toBe(0);
  });
});
