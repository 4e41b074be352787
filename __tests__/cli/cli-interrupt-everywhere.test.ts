import { afterEach, describe, expect, test } from '@jest/globals';
import { existsSync, watch } from 'node:fs';
import { join } from 'node:path';
import { spawnCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { startSink, type Sink } from '../helpers/sink-server.js';

const data = pattern(100_000);
const fx = useCliFixture(data, { sink: false });

/** Resolves once `dir/name` exists, told by inotify, not by polling. */
function created(dir: string, name: string): Promise<void> {
  const watcher = watch(dir);
  return new Promise((resolve) => {
    const check = (): void => {
      if (!existsSync(join(dir, name))) return;
      watcher.close();
      resolve();
    };
    watcher.on('change', check);
    check();
  });
}

describe('Ctrl-C exits 130, saying what is kept', () => {
  let sink: Sink | undefined;
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });

  test('batch with --spool, stdin a pipe that says nothing', async () => {
    sink = await startSink();
    const spool = join(fx.dir, 'spool');
    const ready = created(fx.dir, 'spool');
    const cli = spawnCli(['--mode', 'batch', '--spool', spool, '-', sink.url], { keepStdinOpen: true });
    await ready;
    cli.child.kill('SIGINT');
    const result = await cli.exited;

    expect(result.code).toBe(130);
    expect(result.stderr).toBe(`bhw: interrupted (sent 0 bytes, 0 acknowledged)\nbhw: the spool ${spool} holds nothing more to send\n`);
  });

  test('tus --resume while the server has not answered where the upload stands', async () => {
    let asked!: () => void;
    const headArrived = new Promise<void>((resolve) => (asked = resolve));
    // Never answers: the HEAD waits until interrupted.
    sink = await startSink(() => asked());
    const uploadUrl = `${sink.url}/tus/abc`;
    const cli = spawnCli(['--resume', uploadUrl, fx.file, `${sink.url}/tus`]);
    await headArrived;
    cli.child.kill('SIGINT');
    const result = await cli.exited;

    expect(result.code).toBe(130);
    expect(result.stderr).toBe(`bhw: interrupted (sent 0 bytes, 0 acknowledged)\nbhw: to continue: bhw --resume ${uploadUrl} ${fx.file} ${sink.url}/tus\n`);
  });

  test('--json: the error object says so', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    sink = await startSink(() => arrived());
    const cli = spawnCli(['--json', fx.file, sink.url]);
    await requestArrived;
    cli.child.kill('SIGINT');
    const result = await cli.exited;

    expect(result.code).toBe(130);
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { name: 'AbortError', message: 'interrupted' }, exitCode: 130, bytesAcknowledged: 0 });
  });
});
