import type { Got } from 'got';
import type { UploadDiagnostics } from './diagnostics.js';
import { gotSecretValues, learningSentSecrets, redactUrl, secretValues } from './http/redact.js';
import type { ResolvedOptions } from './options/table.js';

/**
 * What one upload holds besides its settings: what it learns while it runs.
 * Made once per upload from its resolved options, and handed beside them to
 * the session and the transport.
 */
export interface UploadContext {
  /**
   * Credential values never repeated in an error: those the caller gave
   * (headers, got instance, URLs), then those learnt on the way (what got
   * sent, a signed tus upload URL). Shared: an error made later reads it.
   */
  readonly credentials: string[];
  /** The caller's got instance, extended to add to `credentials` what each request sends: every request goes through it. */
  readonly got: Got;
  /** What the diagnostics channels say of this upload; `upload` is set once the writable exists. */
  readonly diagnostics: UploadDiagnostics;
}

export function createUploadContext(options: ResolvedOptions): UploadContext {
  const { got, headers, url, secretHeaders } = options;
  const credentials = [
    ...gotSecretValues(got, secretHeaders),
    ...secretValues([headers], [url, options.mode === 'tus' ? options.uploadUrl : undefined], secretHeaders),
  ];
  return {
    credentials,
    got: learningSentSecrets(got, credentials, secretHeaders),
    diagnostics: { mode: options.mode, url: redactUrl(url), concurrency: options.mode === 'batch' || options.mode === 's3' ? options.concurrency : 1 },
  };
}
