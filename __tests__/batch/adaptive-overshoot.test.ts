import { describe, expect, test } from '@jest/globals';
import { AdaptiveConcurrency, type LimitChange } from '../../lib/http/adaptive-concurrency.js';
import { FixedConcurrency, type AttemptToken, type ConcurrencyLimiter } from '../../lib/http/concurrency-limiter.js';
import { manualClock, type ManualClock } from '../helpers/manual-clock.js';

/**
 * The upload of bench/drivers/overload.ts against its refusing server, on a
 * manual clock: `batches` batches, each sent as soon as the limiter has room,
 * to a server that serves `capacity` at once for `latencyMs` and answers 429
 * to any request above that after `refusalMs` (a refusal comes back fast: the
 * server does not serve it). A refused batch waits `backoffMs`, then takes its
 * turn again, oldest first. Simulated time only: nothing here waits.
 */
interface Simulated {
  requests: number;
  refused: number;
  /** When the last batch was answered 2xx, simulated ms. */
  ms: number;
}

function simulate(
  limiter: ConcurrencyLimiter,
  clock: ManualClock,
  options: { batches: number; capacity: number; latencyMs: number; refusalMs: number; backoffMs: number },
): Simulated {
  const { batches, capacity, latencyMs, refusalMs, backoffMs } = options;
  /** Batches not yet stored, by sequence: when each may be sent next (undefined while in flight). */
  const readyAt = new Map<number, number | undefined>(Array.from({ length: batches }, (_each, i) => [i, 0]));
  const answers: Array<{ at: number; batch: number; token: AttemptToken; ok: boolean }> = [];
  let serving = 0;
  let requests = 0;
  let refused = 0;
  const send = (): void => {
    for (const [batch, at] of readyAt) {
      if (!limiter.hasRoom()) return;
      if (at === undefined || at > clock.now()) continue;
      readyAt.set(batch, undefined);
      requests++;
      const ok = serving < capacity;
      if (ok) serving++;
      else refused++;
      answers.push({ at: clock.now() + (ok ? latencyMs : refusalMs), batch, token: limiter.started(), ok });
    }
  };
  send();
  while (readyAt.size > 0) {
    const waiting = [...readyAt.values()].filter((at): at is number => at !== undefined && at > clock.now());
    const next = Math.min(...answers.map((answer) => answer.at), ...waiting);
    clock.advance(next - clock.now());
    // Answers due now, in the order they were sent; the server frees a slot before its answer leaves.
    for (const answer of answers.filter((each) => each.at <= clock.now())) {
      answers.splice(answers.indexOf(answer), 1);
      if (answer.ok) {
        serving--;
        readyAt.delete(answer.batch);
        limiter.finished(answer.token, { kind: 'ok', rttMs: latencyMs });
      } else {
        readyAt.set(answer.batch, clock.now() + backoffMs);
        limiter.finished(answer.token, { kind: 'overload' });
      }
      send();
    }
    send();
  }
  return { requests, refused, ms: clock.now() };
}

const server = { batches: 250, capacity: 4, latencyMs: 20, refusalMs: 4, backoffMs: 40 };

describe('adaptive concurrency against a server of capacity 4 (the overload bench, simulated)', () => {
  test("'auto' draws at most 5 % 429s and takes at most 1.15× the time of fixed 4", () => {
    const clock = manualClock();
    const changes: LimitChange[] = [];
    const auto = simulate(new AdaptiveConcurrency({ now: clock.now, onChange: (change) => changes.push(change) }), clock, server);
    const fixedClock = manualClock();
    const fixed = simulate(new FixedConcurrency(4, { now: fixedClock.now }), fixedClock, server);
    expect(fixed.refused).toBe(0);
    // Slow start doubles 4 to 8 in one round trip: four refusals are its price. What must not follow
    // is a limit left above 4 while refused slots refill at once, nor a probe to 5 every few windows.
    const trace = changes.map((change) => `${change.previous}→${change.limit} ${change.reason}`).join(', ');
    const share = auto.refused / auto.requests;
    expect(share <= 0.05 ? 'at most 5 %' : `${auto.refused}/${auto.requests} refused: ${trace}`).toBe('at most 5 %');
    expect(auto.ms / fixed.ms).toBeLessThanOrEqual(1.15);
  });
});
