import type { Got } from 'got';
import { RETRY_ERROR_CODES, RETRY_METHODS, RETRY_STATUS_CODES, type RetrySettings } from '../http/retry.js';
import type { RetryOption, UploadMethod } from '../types.js';
import { nonNegativeInteger, nonNegativeNumber, plainObject, refuseUnknownFields } from './validators.js';

/**
 * How long (ms) failures in a row without progress are retried: two minutes
 * outlast a 60-second outage (a database restart, a deploy) with a capped
 * backoff to spare, and still fail an upload whose server is gone in a time
 * a person waits for. curl's `--retry-max-time` is the same idea; the
 * OpenTelemetry exporters' 300 s suit a daemon more than an upload.
 */
export const DEFAULT_MAX_RETRY_TIME = 120_000;
/** The longest backoff (ms): within the budget, a server back up is tried again within this. */
export const DEFAULT_BACKOFF_LIMIT = 30_000;
/** A `Retry-After` longer than this (ms) fails the upload instead of stalling it silently. */
export const DEFAULT_MAX_RETRY_AFTER = 60_000;

/** The fields of `retry` the engine reads (got's names); others, such as got's `noise`, are refused. */
const RETRY_FIELDS = ['limit', 'maxRetryTime', 'methods', 'statusCodes', 'errorCodes', 'maxRetryAfter', 'backoffLimit', 'calculateDelay'];

/**
 * The `retry` option (batch, tus and `fetchTusOffset`) as the retry engine
 * reads it: the caller's fields over the defaults (`{ limit: undefined }`
 * keeps the default), unknown fields refused.
 */
export function resolveRetry(value: RetryOption | undefined, instance: Got, method?: UploadMethod): RetrySettings {
  const retry = plainObject('retry', value) ?? {};
  refuseUnknownFields('retry', retry, RETRY_FIELDS);
  const settings: RetrySettings = {
    // Unset, the time budget alone decides; set, whichever runs out first.
    limit: retry.limit === undefined ? Number.POSITIVE_INFINITY : nonNegativeInteger('retry.limit', retry.limit),
    maxRetryTime: nonNegativeNumber('retry.maxRetryTime', retry.maxRetryTime ?? DEFAULT_MAX_RETRY_TIME),
    statusCodes: retry.statusCodes ?? RETRY_STATUS_CODES,
    // The instance's list if it sets one: the caller may have tuned it there.
    errorCodes: retry.errorCodes ?? instance.defaults.options.retry.errorCodes ?? RETRY_ERROR_CODES,
    maxRetryAfter: nonNegativeNumber('retry.maxRetryAfter', retry.maxRetryAfter ?? DEFAULT_MAX_RETRY_AFTER),
    backoffLimit: nonNegativeNumber('retry.backoffLimit', retry.backoffLimit ?? DEFAULT_BACKOFF_LIMIT),
  };
  if (retry.calculateDelay !== undefined) settings.calculateDelay = retry.calculateDelay;
  // A method the caller left out of retry.methods is never retried.
  const methods = (retry.methods as readonly string[] | undefined) ?? RETRY_METHODS;
  if (method !== undefined && !methods.includes(method)) settings.limit = 0;
  return settings;
}
