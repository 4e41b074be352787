import { describe, expect, test } from '@jest/globals';
import { BufferPool } from '../../lib/core/buffer-pool.js';

describe('the buffer pool never grows and takes back only its own buffers, once', () => {
  test('hands out each buffer once, then refuses instead of allocating', () => {
    const pool = new BufferPool(16, 2);
    const first = pool.acquire();
    const second = pool.acquire();
    expect(first).not.toBe(second);
    expect(first.length).toBe(16);
    expect(pool.available).toBe(0);
    expect(() => pool.acquire()).toThrow('BufferPool exhausted: all 2 buffers are in use');
    pool.release(first);
    expect(pool.available).toBe(1);
    expect(pool.acquire()).toBe(first);
  });

  test('a buffer released twice is refused', () => {
    const pool = new BufferPool(8, 2);
    const buffer = pool.acquire();
    pool.release(buffer);
    expect(() => pool.release(buffer)).toThrow('BufferPool.release: the buffer was released twice');
    expect(pool.available).toBe(2);
  });

  test('a buffer from elsewhere is refused when the pool is full', () => {
    const pool = new BufferPool(8, 1);
    expect(() => pool.release(Buffer.alloc(8))).toThrow('BufferPool.release: the buffer is not from this pool');
    expect(pool.available).toBe(1);
  });

  test('a buffer from elsewhere is refused when the pool has room too', () => {
    const pool = new BufferPool(8, 2);
    pool.acquire();
    expect(() => pool.release(Buffer.alloc(8))).toThrow('BufferPool.release: the buffer is not from this pool');
    expect(pool.available).toBe(1);
  });
});
