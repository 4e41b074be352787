import type { UploadArgs } from './args.js';

/** Bodies larger than this are sent with `Expect: 100-continue`, as curl does (its `EXPECT_100_THRESHOLD`). */
export const EXPECT_CONTINUE_THRESHOLD = 1024 * 1024;

/**
 * The request headers with `Expect: 100-continue` added, as curl adds it: for
 * a body of known size over 1 MiB, so a server that refuses on the headers
 * alone (a 413 size limit, a 401) costs no body bytes. The library waits for
 * `100 Continue` at most its `expectContinueTimeout` (1 s, curl's wait) and
 * then sends anyway. Not with `--no-expect`, not when `-H` names `Expect`
 * itself, and not in batch or s3 mode, whose requests send their body at once
 * (an s3 upload is many requests, most of them with no body to hold back).
 */
export function withExpectContinue(args: UploadArgs, headers: Record<string, string>, bodySize: number | undefined): Record<string, string> {
  if (args.noExpect || args.mode === 'batch' || args.mode === 's3' || bodySize === undefined || bodySize <= EXPECT_CONTINUE_THRESHOLD) return headers;
  if (Object.keys(headers).some((name) => name.toLowerCase() === 'expect')) return headers;
  return { ...headers, expect: '100-continue' };
}
