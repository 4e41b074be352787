import { afterEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable } from '../../lib/index.js';
import { startBatchServer, type BatchServer, type FaultPlan } from '../helpers/batch-server.js';
import { removeSpoolDirs, spoolDir } from '../helpers/spool.js';
import { pattern, readableOf } from '../helpers/data.js';

const highWaterMark = 100;
const threeBatches = (): Buffer[] => Array.from({ length: 3 }, (_value, index) => pattern(highWaterMark, index + 1));
/** The second batch fails twice before its 2xx: three attempts that must carry one key. */
const twoFailures: FaultPlan = ({ sequence, attempt }) => (sequence === 1 && attempt <= 2 ? { kind: 'status', status: 500 } : { kind: 'ok' });
const fast = { backoffLimit: 2 };

const queryOf = (url: string, name: string): string | null => new URL(url, 'http://x').searchParams.get(name);

describe('idempotencyKey: where the key travels', () => {
  let server: BatchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await removeSpoolDirs();
  });

  test('{ query }: the key is in the query on every retry, and still in the Idempotency-Key header', async () => {
    server = await startBatchServer(twoFailures, { keyQuery: 'insert_deduplication_token' });
    const url = `${server.url}/?query=INSERT%20INTO%20logs%20FORMAT%20JSONEachRow`;
    const upload = new BufferedHttpWritable(url, { mode: 'batch', highWaterMark, retry: fast, idempotencyKey: { query: 'insert_deduplication_token' } });
    await pipeline(readableOf(threeBatches()), upload);

    const second = server.attempts.filter((attempt) => attempt.sequence === 1);
    expect(second).toHaveLength(3);
    const tokens = second.map((attempt) => queryOf(attempt.url, 'insert_deduplication_token'));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toBe(second[0]!.headers['idempotency-key']);
    // The caller's own query parameters stay as they were.
    expect(second.every((attempt) => queryOf(attempt.url, 'query') === 'INSERT INTO logs FORMAT JSONEachRow')).toBe(true);
    expect(server.assembled()).toEqual(Buffer.concat(threeBatches()));
  });

  test('{ header: false, query }: the key only in the query, no Idempotency-Key header', async () => {
    server = await startBatchServer(twoFailures, { keyQuery: 'query_id' });
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark, retry: fast, idempotencyKey: { header: false, query: 'query_id' } });
    await pipeline(readableOf(threeBatches()), upload);

    expect(server.attempts).toHaveLength(5);
    expect(server.attempts.every((attempt) => attempt.headers['idempotency-key'] === undefined)).toBe(true);
    const keys = server.attempts.map((attempt) => queryOf(attempt.url, 'query_id'));
    expect(keys.every((key) => key !== null && key.length > 0)).toBe(true);
    expect(new Set(keys).size).toBe(3);
  });

  test('{ header: name }: the key in a header of that name instead', async () => {
    server = await startBatchServer(twoFailures, { keyQuery: 'unused' });
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark, retry: fast, idempotencyKey: { header: 'X-Dedup-Token' } });
    await pipeline(readableOf(threeBatches()), upload);

    const second = server.attempts.filter((attempt) => attempt.sequence === 1);
    expect(new Set(second.map((attempt) => attempt.headers['x-dedup-token'])).size).toBe(1);
    expect(second[0]!.headers['x-dedup-token']).toMatch(/-1$/);
    expect(server.attempts.every((attempt) => attempt.headers['idempotency-key'] === undefined && !attempt.url.includes('?'))).toBe(true);
  });

  test('with a spool, a restart sends a batch left over under the key it had in the query', async () => {
    const dir = await spoolDir();
    // The first process gives up on the second batch (a 500, no retries): it stays in the spool.
    server = await startBatchServer(({ sequence }) => (sequence === 1 ? { kind: 'status', status: 500 } : { kind: 'ok' }), { keyQuery: 'token' });
    const options = { mode: 'batch' as const, highWaterMark, retry: { limit: 0 }, idempotencyKey: { header: false as const, query: 'token' } };
    const first = new BufferedHttpWritable(server.url, { ...options, spool: { dir } });
    await expect(pipeline(readableOf(threeBatches()), first)).rejects.toThrow(/500/);
    const firstKeys = server.attempts.map((attempt) => queryOf(attempt.url, 'token'));
    const leftOver = server.attempts.find((attempt) => attempt.sequence === 1)!;
    await server.close();

    server = await startBatchServer(undefined, { keyQuery: 'token' });
    const second = new BufferedHttpWritable(server.url, { ...options, spool: { dir } });
    await pipeline(readableOf([]), second);
    const resent = server.attempts.find((attempt) => attempt.sequence === 1)!;
    expect(queryOf(resent.url, 'token')).toBe(queryOf(leftOver.url, 'token'));
    expect(firstKeys).toContain(queryOf(resent.url, 'token'));
    expect(resent.headers['idempotency-key']).toBeUndefined();
  });
});

describe('idempotencyKey: validation', () => {
  const make = (idempotencyKey: unknown, url = 'http://127.0.0.1:9/'): BufferedHttpWritable =>
    new BufferedHttpWritable(url, { mode: 'batch', idempotencyKey: idempotencyKey as never });

  test('refuses a placement that sends the key nowhere', () => {
    expect(() => make({ header: false })).toThrow(/idempotencyKey sends the key nowhere/);
  });

  test('refuses a bad header name, an empty query name, an unknown field, and a parameter the url already sets', () => {
    expect(() => make({ header: 'Bad Header' })).toThrow(/idempotencyKey.header must be a header name, received "Bad Header"/);
    expect(() => make({ query: '' })).toThrow(/idempotencyKey.query must be a non-empty query parameter name/);
    expect(() => make({ querry: 'x' })).toThrow(/Unknown option 'idempotencyKey.querry' \(did you mean 'idempotencyKey.query'\?\)/);
    expect(() => make({ query: 'query_id' }, 'http://127.0.0.1:9/?query_id=1')).toThrow(/already in the url's query/);
    expect(() => make('Idempotency-Key')).toThrow(/idempotencyKey must be an object/);
  });

  test('applies to batch mode only', () => {
    // A JavaScript caller can pass it; TypeScript refuses it at compile time.
    // @ts-expect-error idempotencyKey is not a stream option
    expect(() => new BufferedHttpWritable('http://127.0.0.1:9/', { mode: 'stream', idempotencyKey: { query: 'x' } })).toThrow(
      /'idempotencyKey' does not apply to mode 'stream'/,
    );
  });
});
