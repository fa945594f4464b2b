import { RetryLaterError } from '@parley/core';

export interface GroupWriterOptions {
  maxConcurrent: number;
  maxBatch: number;
  /**
   * Rows allowed to wait for a write. Past it, `add` refuses at once (503 with Retry-After): the
   * caller is told to come back rather than held while memory and latency grow without bound.
   */
  maxQueued?: number;
}

/**
 * Application-level group commit. Rows handed in while earlier writes are still in flight wait
 * and go together in the next write, so under load one INSERT (one commit, one WAL flush) carries
 * many rows, while a lone row is written at once. Each caller learns the fate of its own row: when
 * a grouped write fails, its rows are written one by one, so one bad row never fails another.
 */
export class GroupWriter<T> {
  private queue: { row: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private inFlight = 0;
  private readonly options: Required<GroupWriterOptions>;

  constructor(
    private readonly write: (rows: T[]) => Promise<void>,
    options: GroupWriterOptions = { maxConcurrent: 4, maxBatch: 500 },
  ) {
    this.options = { maxQueued: 10_000, ...options };
  }

  get queued(): number {
    return this.queue.length;
  }

  add(row: T): Promise<void> {
    if (this.queue.length >= this.options.maxQueued) {
      return Promise.reject(new RetryLaterError(503, 'overloaded', 'Too many deliveries are waiting to be stored; try again shortly.', 1));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxConcurrent && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.writeBatch(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async writeBatch(batch: { row: T; resolve: () => void; reject: (err: unknown) => void }[]): Promise<void> {
    try {
      await this.write(batch.map((b) => b.row));
      batch.forEach((b) => b.resolve());
      return;
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
    }
    for (const b of batch) {
      try {
        await this.write([b.row]);
        b.resolve();
      } catch (err) {
        b.reject(err);
      }
    }
  }
}
