import type { AnyModeOptions } from '../types.js';
import type { CommonOptions } from './common.js';
import { nonNegativeInteger } from './validators.js';

/** How long (ms) a body waits for `100 Continue` before it is sent anyway: curl's default. */
export const DEFAULT_EXPECT_CONTINUE_TIMEOUT = 1000;

/** `Expect: 100-continue` as the request will carry it: stream and tus. */
export interface ContinueOptions {
  /** The request carries `Expect: 100-continue`: its body waits for `100 Continue`, a final answer, or the timeout. */
  expectsContinue: boolean;
  /** ms the body waits for `100 Continue` before it goes anyway. */
  expectContinueTimeout: number;
}

/** Whether the request will carry `Expect: 100-continue` (the caller's headers over the instance's, any case), and the wait. */
export function resolveContinue(options: AnyModeOptions, common: CommonOptions): ContinueOptions {
  const timeout = nonNegativeInteger('expectContinueTimeout', options.expectContinueTimeout ?? DEFAULT_EXPECT_CONTINUE_TIMEOUT);
  const expectation = (headers: Record<string, unknown> | undefined): unknown =>
    Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === 'expect')?.[1];
  const own = expectation(common.headers);
  const value = own !== undefined ? own : expectation(common.got.defaults.options.headers as Record<string, unknown>);
  return { expectsContinue: typeof value === 'string' && value.trim().toLowerCase() === '100-continue', expectContinueTimeout: timeout };
}
