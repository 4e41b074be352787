/**
 * The error of an upload the caller ended (`signal`, `destroy()`), shaped as
 * Node's own `AbortError` (`name: 'AbortError'`, `code: 'ABORT_ERR'`), which
 * Node does not export: whatever path the abort takes, callers match one shape.
 */
export function abortError(cause?: unknown): Error {
  const error = new Error('The operation was aborted', cause === undefined ? undefined : { cause });
  return Object.assign(error, { name: 'AbortError', code: 'ABORT_ERR' });
}
