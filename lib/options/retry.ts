import type { Got, RetryOptions } from 'got';
import { RETRY_ERROR_CODES, RETRY_METHODS, RETRY_STATUS_CODES, type RetrySettings } from '../http/retry.js';
import type { UploadMethod } from '../types.js';
import { nonNegativeInteger, nonNegativeNumber, plainObject, refuseUnknownFields } from './validators.js';

/** Retries after the first attempt for batch requests and tus resumes without progress. */
export const DEFAULT_RETRY_LIMIT = 5;
/** A `Retry-After` longer than this (ms) fails the upload instead of stalling it silently. */
export const DEFAULT_MAX_RETRY_AFTER = 60_000;

/** The fields of `retry` the engine reads (got's names); others, such as got's `noise`, are refused. */
const RETRY_FIELDS = ['limit', 'methods', 'statusCodes', 'errorCodes', 'maxRetryAfter', 'backoffLimit', 'calculateDelay'];

/**
 * The `retry` option (batch, tus and `fetchTusOffset`) as the retry engine
 * reads it: the caller's fields over the defaults (`{ limit: undefined }`
 * keeps the default), unknown fields refused.
 */
export function resolveRetry(value: Partial<RetryOptions> | undefined, instance: Got, method?: UploadMethod): RetrySettings {
  const retry = plainObject('retry', value) ?? {};
  refuseUnknownFields('retry', retry, RETRY_FIELDS);
  const settings: RetrySettings = {
    limit: nonNegativeInteger('retry.limit', retry.limit ?? DEFAULT_RETRY_LIMIT),
    statusCodes: retry.statusCodes ?? RETRY_STATUS_CODES,
    // The instance's list if it sets one: the caller may have tuned it there.
    errorCodes: retry.errorCodes ?? instance.defaults.options.retry.errorCodes ?? RETRY_ERROR_CODES,
    maxRetryAfter: nonNegativeNumber('retry.maxRetryAfter', retry.maxRetryAfter ?? DEFAULT_MAX_RETRY_AFTER),
    backoffLimit: nonNegativeNumber('retry.backoffLimit', retry.backoffLimit ?? Number.POSITIVE_INFINITY),
  };
  if (retry.calculateDelay !== undefined) settings.calculateDelay = retry.calculateDelay;
  // A method the caller left out of retry.methods is never retried.
  const methods = (retry.methods as readonly string[] | undefined) ?? RETRY_METHODS;
  if (method !== undefined && !methods.includes(method)) settings.limit = 0;
  return settings;
}
