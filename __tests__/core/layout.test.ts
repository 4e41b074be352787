import { describe, expect, test } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layout rules the code is held to, checked on the sources: no import
 * circle in lib/ (type imports included: a circle of types is still one
 * concern split badly), the Writable's core free of HTTP, and no file in lib/
 * or cli/ over 400 lines (one concern per file).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAX_LINES = 400;

function sources(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => path.join(ROOT, folder, name));
}

/** The relative modules a file imports or re-exports, static or dynamic, as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((match) => match[1]!);
  return specifiers.map((specifier) => path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts'));
}

/** Who imports whom among `files`. */
function importGraph(files: string[]): Map<string, string[]> {
  return new Map(files.map((file) => [file, importsOf(file).filter((target) => files.includes(target))]));
}

/** One circle in `graph`, as the path around it; undefined when there is none. */
function findCircle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const trail: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...trail.slice(trail.indexOf(file)), file];
    state.set(file, 'open');
    trail.push(file);
    for (const target of graph.get(file)!) {
      const circle = visit(target);
      if (circle) return circle;
    }
    trail.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of graph.keys()) {
    const circle = visit(file);
    if (circle) return circle;
  }
  return undefined;
}

describe('layout', () => {
  test('lib/ has no import circle, type imports included', () => {
    const graph = importGraph(sources('lib'));
    expect(graph.get(path.join(ROOT, 'lib/index.ts'))).toContain(path.join(ROOT, 'lib/buffered-http-writable.ts'));
    expect(findCircle(graph)?.map((file) => path.relative(ROOT, file))).toBeUndefined();
  });

  test('the circle finder finds a circle, type imports too', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['b']],
    ]);
    expect(findCircle(graph)).toEqual(['b', 'c', 'b']);
    expect(
      findCircle(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
    ).toBeUndefined();
    // `import type` lines are read like any other import.
    expect(importsOf(path.join(ROOT, 'lib/types/options.ts'))).toContain(path.join(ROOT, 'lib/types/settings.ts'));
  });

  test('the core imports nothing of lib/http/ or got', () => {
    for (const file of sources('lib/core')) {
      const text = readFileSync(file, 'utf8');
      expect({ file: path.relative(ROOT, file), http: /from '(\.\.\/http\/|got')/.test(text) }).toEqual({ file: path.relative(ROOT, file), http: false });
    }
  });

  test(`no file in lib/ or cli/ is over ${MAX_LINES} lines`, () => {
    const long = [...sources('lib'), ...sources('cli')]
      .map((file) => ({ file: path.relative(ROOT, file), lines: readFileSync(file, 'utf8').trimEnd().split('\n').length }))
      .filter(({ lines }) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });
});
