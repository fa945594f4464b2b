import type { Logger } from '@parley/core';

/**
 * A background job that drains a table of work (stored deliveries, queued messages): on a timer,
 * or at once when kicked. Kicks during a drain fold into one more pass, so work is never left
 * waiting for the next tick and never drained twice at once in one process.
 */
export abstract class PollingJob {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  protected constructor(
    protected readonly logger: Logger,
    private readonly pollMs: number,
    private readonly name: string,
  ) {}

  /** Works off everything that can be done now; answers how much was done. */
  abstract drain(): Promise<number>;

  start(): void {
    this.timer ??= setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  kick(): void {
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

  /** Returns once everything there is now has been worked off; for tests and shutdown. */
  async settle(): Promise<void> {
    do {
      await this.running;
      await this.drain();
    } while (this.running);
  }
}
