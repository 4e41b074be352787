/**
 * What the spool holds, in one object the writer, the reader and the
 * acknowledgements share: the writer adds to it in the same tick the bytes
 * become readable (segments.ts), so a reader never sees records without them.
 */
export interface SpoolCounts {
  /** Payload bytes of records not yet acknowledged (what counts against maxBytes). */
  stored: number;
  /** After the read cursor: payload bytes, records and CUT markers not yet in a batch. */
  unreadBytes: number;
  unreadRecords: number;
  unreadCuts: number;
}
