import { describe, expect, test } from '@jest/globals';
import { parseCliArgs, parseSize, UsageError } from '../../cli/args.js';
import { resumeCommand } from '../../cli/report.js';

describe('sizes', () => {
  test.each([
    ['65536', 65536],
    ['64KiB', 65536],
    ['64kib', 65536],
    ['1MiB', 1024 * 1024],
    ['1.5MB', 1_500_000],
    ['1.5KiB', 1536],
    ['2k', 2000],
    ['1GiB', 1024 ** 3],
    ['100 B', 100],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseSize('--high-water-mark', text)).toBe(bytes);
  });

  test.each(['', '0', '-1', '1XB', '1.5.5MB', 'MiB', '0.1B', '1.5', '2.0'])('%j is refused, naming the option', (text) => {
    expect(() => parseSize('--high-water-mark', text)).toThrow(UsageError);
    expect(() => parseSize('--high-water-mark', text)).toThrow(/--high-water-mark/);
  });
});

describe('options', () => {
  test('--resume implies tus mode; with another mode it is refused', () => {
    const args = parseCliArgs(['--resume', 'http://h/tus/1', 'f', 'http://h/tus']);
    expect(args).toMatchObject({ command: 'upload', mode: 'tus', resume: 'http://h/tus/1' });
    expect(() => parseCliArgs(['--mode', 'batch', '--resume', 'http://h/tus/1', 'f', 'http://h/tus'])).toThrow(
      /--resume applies to --mode tus, s3 and azure-blob only/,
    );
    expect(() => parseCliArgs(['--mode', 'azure-blob', '--resume', '', 'f', 'http://h/c/b?sig=s'])).toThrow(
      /--resume needs a state file path with --mode azure-blob/,
    );
    expect(parseCliArgs(['--mode', 'azure-blob', '--resume', 'up.state', 'f', 'http://h/c/b?sig=s'])).toMatchObject({ mode: 'azure-blob', resume: 'up.state' });
  });

  test('receive takes --port and --dir', () => {
    expect(parseCliArgs(['receive', '--port', '0', '--dir', 'd'])).toEqual({ command: 'receive', port: 0, dir: 'd' });
    expect(() => parseCliArgs(['receive', '--port', '70000'])).toThrow(/--port must be at most 65535/);
  });

  test('receive takes --max-bytes as a size and --max-keys as a count', () => {
    expect(parseCliArgs(['receive', '--max-bytes', '10MiB', '--max-keys', '500'])).toEqual({
      command: 'receive',
      port: 8080,
      dir: 'received',
      maxBytes: 10 * 1024 ** 2,
      maxKeys: 500,
    });
    expect(() => parseCliArgs(['receive', '--max-bytes', '0'])).toThrow(/--max-bytes must be at least 1 byte/);
    expect(() => parseCliArgs(['receive', '--max-keys', '0'])).toThrow(/--max-keys must be an integer of at least 1/);
  });
});

describe('the resume command', () => {
  test('repeats the arguments, replacing an earlier --resume', () => {
    const { command, redacted } = resumeCommand(['--mode', 'tus', '--resume', 'http://h/tus/old', 'my file.bin', 'http://h/tus'], 'http://h/tus/new');
    expect(command).toBe("bhw --resume http://h/tus/new --mode tus 'my file.bin' http://h/tus");
    expect(redacted).toBe(false);
  });

  test('leaves secrets out', () => {
    const { command, redacted } = resumeCommand(['-H', 'Authorization: Bearer s3cret', '--mode', 'tus', 'f', 'http://user:pw@h/tus'], 'http://h/tus/1');
    expect(command).not.toMatch(/s3cret|pw@/);
    expect(command).toContain("'Authorization: [REDACTED]'");
    expect(command).toContain("'http://user:[REDACTED]@h/tus'");
    expect(redacted).toBe(true);
  });

  test('leaves -u passwords and proxy passwords out, in every spelling', () => {
    const argv = [
      '-u',
      'alice:s3cret-1',
      '--user=bob:s3cret-2',
      '-kucarol:s3cret-3',
      '--proxy',
      'http://p:s3cret-4@proxy:3128',
      '-x',
      'http://s3cret-5@proxy:3128',
      '--mode',
      'tus',
      '--',
      'f',
      'http://h/tus',
    ];
    const { command, redacted } = resumeCommand(argv, 'http://h/tus/1');
    expect(command).not.toMatch(/s3cret/);
    expect(command).toBe(
      "bhw --resume http://h/tus/1 -u 'alice:[REDACTED]' --user 'bob:[REDACTED]' -k -u 'carol:[REDACTED]'" +
        " --proxy 'http://p:[REDACTED]@proxy:3128/' -x 'http://[REDACTED]@proxy:3128/' --mode tus -- f http://h/tus",
    );
    expect(redacted).toBe(true);
  });
});
