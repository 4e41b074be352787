import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

/**
 * `parseArgs` in strict mode, with its mistakes said in bhw's words: an
 * unknown flag gets the nearest known one ("did you mean --max-time?"), a
 * flag without its value or a switch given one is named, and every message
 * points to `bhw --help`.
 */
export function parseFlags<T extends Options>(argv: string[], options: T): Parsed<T> {
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const option = options[token.name];
    if (option === undefined) throw new UsageError(`unknown option ${token.rawName}${suggestion(token.rawName, options)}; see bhw --help`);
    if (option.type === 'string' && token.value === undefined) throw new UsageError(`${token.rawName} needs a value; see bhw --help`);
    if (option.type === 'boolean' && token.inlineValue) throw new UsageError(`${token.rawName} takes no value; see bhw --help`);
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    // What is left (an option value that looks like an option, say): Node's words, and the pointer.
    throw new UsageError(`${(error as Error).message.replace(/\s+/g, ' ').trim()}; see bhw --help`);
  }
}

/** ` (did you mean --max-time?)` for the known long flag closest to a mistyped one, or nothing when none is close. */
function suggestion(rawName: string, options: Options): string {
  if (!rawName.startsWith('--')) return '';
  const typed = rawName.slice(2);
  let best: { name: string; distance: number } | undefined;
  for (const name of Object.keys(options)) {
    const distance = editDistance(typed, name);
    if (!best || distance < best.distance) best = { name, distance };
  }
  // A third of the name may be wrong: `--max-tme`, `--contentlength`, `--insecur`, not `--bogus`.
  return best && best.distance <= Math.max(1, Math.floor(typed.length / 3)) ? ` (did you mean --${best.name}?)` : '';
}

/** Levenshtein distance: insertions, deletions and substitutions, one each. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
