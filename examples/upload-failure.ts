import { BufferedHttpWritableError } from 'buffered-http-writable';

/**
 * What the object-store examples print when an upload fails: the error's
 * code and message, and for a multipart upload which parts the server holds
 * and how to continue it. Sets the exit code to 1.
 */
export function reportUploadFailure(program: string, error: unknown, state: string | undefined, parts: 'parts' | 'blocks'): void {
  const reason = error instanceof BufferedHttpWritableError ? `${error.code}: ${error.message}` : (error as Error).message;
  console.error(`\n${program}: upload failed: ${reason}`);
  if (error instanceof BufferedHttpWritableError && error.uploadId !== undefined) {
    console.error(`${program}: upload ${error.uploadId} holds ${parts} [${error.partsStored?.join(', ') ?? ''}]`);
    if (state) console.error(`${program}: run the same command again to continue it (${state} records it)`);
  }
  process.exitCode = 1;
}
