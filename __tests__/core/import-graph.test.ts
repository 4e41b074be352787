import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The test may run from its compiled copy in dist/: lib/ is the source tree either way.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)).replace(/[/\\]dist([/\\]__tests__)/, '$1'), '../..');
const LIB = join(ROOT, 'lib');

/** Every `.ts` file under `dir`, as absolute paths. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * The relative modules a file imports or re-exports, type-only ones
 * included: `import … from`, `import type … from`, `export … from`,
 * side-effect `import '…'` and `import('…')`.
 */
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gms),
    ...text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((match) => match[1]!);
  return specifiers.filter((specifier) => specifier.startsWith('.')).map((specifier) => resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
}

/** The first cycle found by a depth-first walk, as the list of files around it (the first repeated at the end), or undefined. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (file: string): string[] | undefined => {
    if (onPath.has(file)) return [...path.slice(path.indexOf(file)), file];
    if (done.has(file)) return undefined;
    path.push(file);
    onPath.add(file);
    for (const target of graph.get(file) ?? []) {
      const cycle = visit(target);
      if (cycle) return cycle;
    }
    path.pop();
    onPath.delete(file);
    done.add(file);
    return undefined;
  };
  for (const file of [...graph.keys()].sort()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('the import graph of lib/', () => {
  const files = sources(LIB);
  const graph = new Map(files.map((file) => [file, relativeImports(file)]));

  test('reads the sources and their imports', () => {
    expect(files.length).toBeGreaterThan(10);
    expect(graph.get(join(LIB, 'index.ts'))?.length).toBeGreaterThan(0);
  });

  test('every relative import names a file in lib/', () => {
    const missing = [...graph].flatMap(([file, targets]) =>
      targets.filter((target) => !graph.has(target)).map((target) => `${relative(ROOT, file)} → ${relative(ROOT, target)}`),
    );
    expect(missing).toEqual([]);
  });

  test('has no cycle, type imports included', () => {
    const cycle = findCycle(graph);
    expect(cycle?.map((file) => relative(ROOT, file)).join(' → ')).toBeUndefined();
  });
});
