import { describe, expect, test } from '@jest/globals';
import { RecentGroups } from '../../lib/modes/batch/spool/recent-groups.js';

/** A staging buffer holding `length` bytes of `fill` at its start. */
function staged(length: number, fill: number, size = length): { staging: Buffer; bytes: Buffer } {
  const staging = Buffer.alloc(size);
  staging.fill(fill, 0, length);
  return { staging, bytes: staging.subarray(0, length) };
}

describe('the groups last written, kept in memory for the reader', () => {
  test('a read spanning kept groups is served whole; one past them is served up to where they end', () => {
    const recent = new RecentGroups();
    const first = staged(100, 1);
    const second = staged(50, 2);
    recent.keep(1000, first.bytes, first.staging);
    recent.keep(1100, second.bytes, second.staging);
    const target = Buffer.alloc(200);
    expect(recent.read(target, 10, 120, 1040)).toBe(110);
    expect([...target.subarray(10, 70)].every((byte) => byte === 1)).toBe(true);
    expect([...target.subarray(70, 120)].every((byte) => byte === 2)).toBe(true);
    expect(recent.read(target, 0, 10, 900)).toBe(0);
    expect(recent.read(target, 0, 10, 1150)).toBe(0);
  });

  test('a large group keeps its staging buffer and the next group is staged in another; a small one is copied', () => {
    const recent = new RecentGroups();
    const large = staged(900, 3, 1000);
    const next = recent.keep(0, large.bytes, large.staging);
    expect(next).not.toBe(large.staging);
    expect(next.length).toBeGreaterThanOrEqual(1000);
    const small = staged(10, 4, 1000);
    expect(recent.keep(900, small.bytes, small.staging)).toBe(small.staging);
    small.staging.fill(9);
    const target = Buffer.alloc(10);
    recent.read(target, 0, 10, 900);
    expect([...target]).toEqual(Array.from({ length: 10 }, () => 4));
  });

  test('groups read into batches are forgotten; a forgotten position is read from disk', () => {
    const recent = new RecentGroups();
    const first = staged(100, 1);
    const second = staged(100, 2);
    recent.keep(0, first.bytes, first.staging);
    recent.keep(100, second.bytes, second.staging);
    recent.dropBefore(150);
    const target = Buffer.alloc(100);
    expect(recent.read(target, 0, 10, 50)).toBe(0);
    expect(recent.read(target, 0, 10, 150)).toBe(10);
  });

  test('at most 4 MiB is kept: the oldest group goes first', () => {
    const recent = new RecentGroups();
    let staging: Buffer = Buffer.alloc(1 << 20);
    for (let index = 0; index < 6; index++) {
      staging.fill(index);
      staging = recent.keep(index << 20, staging, staging);
    }
    const target = Buffer.alloc(1);
    expect(recent.read(target, 0, 1, 0)).toBe(0);
    expect(recent.read(target, 0, 1, 1 << 20)).toBe(0);
    expect(recent.read(target, 0, 1, 2 << 20)).toBe(1);
    expect(target[0]).toBe(2);
    expect(recent.read(target, 0, 1, (6 << 20) - 1)).toBe(1);
    expect(target[0]).toBe(5);
  });
});
