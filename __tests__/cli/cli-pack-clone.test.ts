/**
 * `npm pack` in a fresh clone, where no dist/ was ever built: the package must
 * still hold the compiled library and CLI (its prepack script builds them).
 * The clone is of the committed HEAD; its node_modules is this checkout's.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const available = (command: string): boolean => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
const canClone = available('npm') && available('git') && spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: 'ignore' }).status === 0;
if (!canClone) console.warn('cli-pack-clone.test.ts skipped: it needs npm, git and a git checkout to clone');
const describeIfClonable = canClone ? describe : describe.skip;

describeIfClonable('npm pack in a fresh clone', () => {
  let work: string;
  let files: string[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'bhw-clone-'));
    const clone = join(work, 'clone');
    await run('git', ['clone', '--quiet', root, clone]);
    expect(existsSync(join(clone, 'dist'))).toBe(false);
    await symlink(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: clone, maxBuffer: 16 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>;
    files = packed!.files.map((file) => file.path);
  }, 180_000);
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('the package holds the built library, its types and the CLI', () => {
    expect(files).toEqual(
      expect.arrayContaining(['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/redact.js', 'dist/lib/redact.d.ts', 'dist/cli/main.js']),
    );
  });

  test('and nothing of the tests, examples or benchmarks', () => {
    expect(files.filter((path) => !/^(dist\/lib\/|dist\/cli\/|package\.json$|README\.md$)/.test(path))).toEqual([]);
  });
});
