/**
 * Characters an untrusted value must not put on a terminal or into a log
 * file as they are: C0 and C1 controls (a newline starts a forged log line,
 * ESC and CSI drive the terminal), Unicode line and paragraph separators, and
 * the bidirectional overrides that make text read differently from its bytes.
 * The backslash too, so an escape in the output is always one we wrote.
 */
const UNPRINTABLE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

/** `text` with each unprintable character escaped as JSON and C write them (`\n`, `\x1b`, `\u202e`), safe to print on one line. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => {
    const named = NAMED[char];
    if (named) return named;
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
