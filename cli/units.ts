/**
 * The CLI's one reading of digits and its one way of writing byte counts and
 * rates: the argument parser and the receiving server share them, and so do
 * the summary line and the progress bar.
 */

/** `"42"` → 42; anything but plain decimal digits of a safe integer (a sign, a point, a space) → undefined. */
export function parseDigits(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** `"2.5"` → 2500 ms, as curl reads `--max-time 2.5`; anything but a non-negative decimal number → undefined. */
export function parseSecondsToMs(text: string): number | undefined {
  if (!/^\d+(?:\.\d+)?$/.test(text)) return undefined;
  const ms = Math.round(Number(text) * 1000);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Decimal megabytes per second, as download tools print them. */
export function formatRate(bytes: number, seconds: number): string {
  return `${(seconds > 0 ? bytes / seconds / 1e6 : 0).toFixed(2)} MB/s`;
}
