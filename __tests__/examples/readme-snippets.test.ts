/**
 * Every ```ts block of README.md compiles as it stands: a reader who copies one
 * gets its imports and variables with it. Each block is type-checked as its own
 * module in examples/ (so the repository-only `../cli/…` import resolves), with
 * the package name mapped to the sources as tsconfig.json maps it.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const root = new URL('../..', import.meta.url).pathname;

interface Snippet {
  line: number;
  path: string;
  code: string;
}

/** The ```ts blocks, each with the README line its code starts on. */
function readmeSnippets(): Snippet[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const snippets: Snippet[] = [];
  let start = -1;
  lines.forEach((line, index) => {
    if (start < 0 && line.trim() === '```ts') start = index + 1;
    else if (start >= 0 && line.trim() === '```') {
      snippets.push({ line: start + 1, path: join(root, 'examples', `readme-line-${start + 1}.ts`), code: lines.slice(start, index).join('\n') });
      start = -1;
    }
  });
  return snippets;
}

function typeCheck(snippets: Snippet[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  // A snippet may import something only to show its name.
  const options = { ...config!.options, noEmit: true, noUnusedLocals: false };
  const virtual = new Map(snippets.map((snippet) => [snippet.path, snippet.code]));
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (path) => virtual.has(path) || fileExists(path);
  host.readFile = (path) => virtual.get(path) ?? readFile(path);
  host.getSourceFile = (path, language, ...rest) => {
    const code = virtual.get(path);
    return code === undefined ? getSourceFile(path, language, ...rest) : ts.createSourceFile(path, code, language);
  };
  const program = ts.createProgram([...virtual.keys()], options, host);
  return snippets.flatMap((snippet) => {
    const file = program.getSourceFile(snippet.path)!;
    return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map((diagnostic) => {
      const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      return `README.md:${snippet.line + line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
  });
}

describe('README.md', () => {
  test('every ts snippet type-checks on its own', () => {
    const snippets = readmeSnippets();
    expect(snippets.length).toBeGreaterThan(5);
    expect(typeCheck(snippets)).toEqual([]);
  });
});
