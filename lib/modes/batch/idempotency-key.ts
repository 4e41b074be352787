import type { IdempotencyKeyPlacement } from '../../types.js';
import { describe, headerName, plainObject, refuseUnknownFields } from '../../options/validators.js';

/** Where a batch's key goes after defaults: a header, a query parameter, or both. */
export interface ResolvedKeyPlacement {
  /** The header's name, or undefined for no header. */
  header: string | undefined;
  /** The query parameter's name, or undefined for none. */
  query: string | undefined;
}

export const DEFAULT_IDEMPOTENCY_HEADER = 'Idempotency-Key';

/**
 * The `idempotencyKey` option: the header by default, as before; `query`
 * for servers that read the token from the URL (ClickHouse's
 * `insert_deduplication_token`). A placement that sends the key nowhere, or a
 * query parameter the URL already sets, is refused: either would silently
 * lose the deduplication the key exists for.
 */
export function resolveKeyPlacement(value: IdempotencyKeyPlacement | undefined, url: URL): ResolvedKeyPlacement {
  const placement = plainObject('idempotencyKey', value) ?? {};
  refuseUnknownFields('idempotencyKey', placement, ['header', 'query']);
  const { header = DEFAULT_IDEMPOTENCY_HEADER, query } = placement;
  if (header !== false) headerName('idempotencyKey.header', header);
  if (query !== undefined) {
    if (typeof query !== 'string' || query === '') {
      throw new TypeError(`idempotencyKey.query must be a non-empty query parameter name, received ${describe(query)}`);
    }
    if (url.searchParams.has(query)) {
      throw new TypeError(`idempotencyKey.query '${query}' is already in the url's query: the key would replace it`);
    }
  }
  if (header === false && query === undefined) {
    throw new TypeError("idempotencyKey sends the key nowhere: with header: false, set query (say, { header: false, query: 'insert_deduplication_token' })");
  }
  return { header: header === false ? undefined : header, query };
}

/** The headers and query parameters that carry `key` on every attempt of one batch. */
export function keyFields(placement: ResolvedKeyPlacement, key: string): { headers: Record<string, string>; query: Record<string, string> } {
  return {
    headers: placement.header === undefined ? {} : { [placement.header]: key },
    query: placement.query === undefined ? {} : { [placement.query]: key },
  };
}
