import { afterEach, describe, expect, test } from '@jest/globals';
import { killChildren, spawnChild } from '../helpers/children.js';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../../lib/errors.js';
import { SpoolLockedError } from '../../lib/spool-errors.js';
import { Spool } from '../../lib/modes/batch/spool/index.js';
import { openSpool, removeSpoolDirs, spoolDir } from '../helpers/spool.js';

/** The built spool module: `npm test` builds before jest; during development run `npm run build` first. */
const SPOOL_MODULE = fileURLToPath(new URL('../../dist/lib/modes/batch/spool/index.js', import.meta.url));

afterEach(async () => {
  await killChildren();
  await removeSpoolDirs();
});

/** A child process that opens the spool and holds it until killed; resolves once it holds it. */
async function childHoldingSpool(dir: string): Promise<ChildProcess> {
  const script = `
    const { Spool } = await import(${JSON.stringify(SPOOL_MODULE)});
    await Spool.open({ dir: ${JSON.stringify(dir)} });
    process.stdout.write('held\\n');
    process.stdin.resume();
  `;
  const child = spawnChild(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdout!.setEncoding('utf8');
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (text: string) => {
      output += text;
      if (output.includes('held')) resolve();
    });
    child.once('close', (code) => reject(new Error(`child exited (${code}) before it held the spool`)));
  });
  return child;
}

/** The state letter in `/proc/<pid>/stat` (`R`, `S`, `Z`, …). */
async function processState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0];
}

async function lockedError(dir: string): Promise<SpoolLockedError> {
  const error = await Spool.open({ dir }).then(
    async (spool) => {
      await spool.close();
      throw new Error('a second writer opened the spool');
    },
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(SpoolLockedError);
  return error as SpoolLockedError;
}

describe('one writer per spool', () => {
  test('a second Spool on the same directory in this process is refused, also while the first is still opening', async () => {
    const dir = await spoolDir();
    const opening = [Spool.open({ dir }), Spool.open({ dir })];
    const [first, second] = await Promise.allSettled(opening);
    const winner = first.status === 'fulfilled' ? first.value : (second as PromiseFulfilledResult<Spool>).value;
    const loser = first.status === 'rejected' ? first : second;
    expect(loser.status).toBe('rejected');
    expect((loser as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCodes.SPOOL_LOCKED, pid: process.pid });
    const error = await lockedError(dir);
    expect(error.message).toContain('another spool in this process');
    await winner.close();
    // Closed: the lock file is gone and the spool opens again.
    await expect(stat(join(dir, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' });
    await openSpool({ dir });
  });

  test('another live process holding the spool: ERR_BHW_SPOOL_LOCKED with its pid; once it is killed, the lock is taken over', async () => {
    const dir = await spoolDir();
    const child = await childHoldingSpool(dir);
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(`${child.pid}\n`);
    const error = await lockedError(dir);
    expect(error.code).toBe(ErrorCodes.SPOOL_LOCKED);
    expect(error.pid).toBe(child.pid);
    expect(error.message).toContain(`process ${child.pid}`);

    const closed = once(child, 'close');
    child.kill('SIGKILL');
    await closed;
    // The dead process's lock file is still there, and is taken over.
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(`${child.pid}\n`);
    await openSpool({ dir });
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(`${process.pid}\n`);
  });

  test('a lock naming this process that no spool here holds is stale (a container restarted with the same pid)', async () => {
    const dir = await spoolDir();
    await (await Spool.open({ dir })).close();
    await writeFile(join(dir, 'lock'), `${process.pid}\n`);
    await openSpool({ dir });
  });

  test('a lock held by a zombie (killed, never reaped by its parent) is taken over', async () => {
    const dir = await spoolDir();
    // The holder runs under `sleep`, which never reaps a child: killed, it stays a zombie.
    const holder = `
      const { readFileSync, writeSync } = await import('node:fs');
      const { Spool } = await import(${JSON.stringify(SPOOL_MODULE)});
      await Spool.open({ dir: ${JSON.stringify(dir)} });
      while (readFileSync('/proc/' + process.ppid + '/comm', 'utf8').trim() !== 'sleep') await new Promise((resolve) => setTimeout(resolve, 5));
      writeSync(3, process.pid + '\\n');
      process.kill(process.pid, 'SIGKILL');
    `;
    const shell = `"$0" --input-type=module -e "$1" & exec sleep 600 3>&-`;
    const parent = spawnChild('sh', ['-c', shell, process.execPath, holder], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
    const report = parent.stdio[3] as NodeJS.ReadableStream;
    report.setEncoding('utf8');
    let text = '';
    report.on('data', (chunk: string) => (text += chunk));
    // The holder's end of the pipe closes as it dies; `sleep` never had it.
    await once(report, 'end');
    const pid = Number.parseInt(text, 10);
    // Its files close a moment before the kernel marks it a zombie, and nothing signals that moment: the state is re-read.
    while ((await processState(pid)) !== 'Z') await delay(5);
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(`${pid}\n`);
    await openSpool({ dir });
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(`${process.pid}\n`);
  });
});
