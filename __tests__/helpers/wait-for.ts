import type { EventEmitter } from 'node:events';

/** Resolves once `condition()` holds; re-checked on every `'change'` the server helper emits, never on a timer. */
export function waitForChange(events: EventEmitter, condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!condition()) return;
      events.off('change', check);
      resolve();
    };
    events.on('change', check);
    check();
  });
}
