// When to restart a server that died: exponential back-off, and a limit on crashes in a window
// after which we stop and ask the user. Pure logic, unit-tested; the Neovim plugin follows the
// same policy (editors/nvim/lua/rapide/backoff.lua).

export interface BackoffOptions {
  /** Delay before the first restart. */
  baseDelayMs: number;
  /** Upper bound of the delay. */
  maxDelayMs: number;
  /** Crashes older than this are forgotten (a server that ran this long is healthy again). */
  windowMs: number;
  /** Crashes within the window after which no restart is attempted. */
  maxCrashes: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  windowMs: 180_000,
  maxCrashes: 5,
};

export type RestartDecision =
  | { restart: true; delayMs: number; crashesInWindow: number }
  | { restart: false; crashesInWindow: number };

export class RestartPolicy {
  private crashes_: number[] = [];

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {
    if (options.baseDelayMs <= 0 || options.maxDelayMs < options.baseDelayMs || options.maxCrashes < 1) {
      throw new Error(`invalid back-off options ${JSON.stringify(options)}`);
    }
  }

  /** Records a crash at `nowMs` and says whether and when to restart. */
  onCrash(nowMs: number): RestartDecision {
    this.crashes_ = this.crashes_.filter((t) => nowMs - t < this.options.windowMs);
    this.crashes_.push(nowMs);
    const n = this.crashes_.length;
    if (n >= this.options.maxCrashes) return { restart: false, crashesInWindow: n };
    const delayMs = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (n - 1));
    return { restart: true, delayMs, crashesInWindow: n };
  }

  /** Forgets past crashes (the user restarted the server by hand). */
  reset(): void {
    this.crashes_ = [];
  }
}
