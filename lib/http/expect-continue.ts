/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): a client that sends it waits
 * for the server's `100 Continue` before the body, so a server that refuses
 * on the headers alone (401, 413, 417) responds before a single body byte was
 * sent. Node's client sends the header but not the wait; this gate is the
 * wait. It opens on `100 Continue` (got emits `'continue'`) or, as curl does,
 * after a timeout: a server or proxy that ignores the expectation must still
 * get the body. A final response that comes first shuts it for good, and the
 * body never goes.
 */
export class ContinueGate {
  /** Resolves when the body may go; stays pending once shut. */
  readonly opened: Promise<void>;
  #open!: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.opened = new Promise((resolve) => (this.#open = resolve));
    this.#timer = setTimeout(() => this.open(), timeoutMs);
  }

  /** `100 Continue` came, or the wait is over: the body goes. */
  open(): void {
    this.#clear();
    this.#open();
  }

  /** A final response came first, or the request is over: the body never goes, and no timer is left behind. */
  shut(): void {
    this.#clear();
    this.#open = () => {};
  }

  #clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
