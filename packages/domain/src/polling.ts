import type { Logger } from '@parley/core';

/**
 * A background job that drains a table of work (stored deliveries, queued messages): on a timer,
 * or at once when kicked. Kicks during a drain fold into one more pass, so work is never left
 * waiting for the next tick and never drained twice at once in one process. Once stopped, it
 * starts no drain, and a drain under way ends after the work it holds (see `stopping`).
 */
export abstract class PollingJob {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  protected constructor(
    protected readonly logger: Logger,
    private readonly pollMs: number,
    private readonly name: string,
  ) {}

  /** Works off everything that can be done now; answers how much was done. */
  abstract drain(): Promise<number>;

  /** True once `stop()` was called: a drain takes no new work and returns. */
  protected get stopping(): boolean {
    return this.stopped;
  }

  start(): void {
    this.stopped = false;
    this.timer ??= setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Returns once the drain under way has finished; none starts after that. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .then(() => undefined)
      .catch((err: unknown) => this.logger.error({ err }, `${this.name} failed`))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /**
   * A drain made of batches: takes batches until one comes back short (nothing more is waiting)
   * or the job is stopping. `batch` answers how many items it took.
   */
  protected async drainBatches(batchSize: number, batch: () => Promise<number>): Promise<number> {
    let total = 0;
    while (!this.stopping) {
      const n = await batch();
      total += n;
      if (n < batchSize) break;
    }
    return total;
  }

  /** Returns once everything there is now has been worked off; for tests and shutdown. */
  async settle(): Promise<void> {
    do {
      await this.running;
      await this.drain();
    } while (this.running);
  }
}
