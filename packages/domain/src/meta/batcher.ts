/**
 * Application-level group commit. Rows handed in while earlier writes are still in flight wait
 * and go together in the next write, so under load one INSERT (one commit, one WAL flush) carries
 * many rows, while a lone row is written at once. Each caller learns the fate of its own row.
 */
export class GroupWriter<T> {
  private queue: { row: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly write: (rows: T[]) => Promise<void>,
    private readonly options: { maxConcurrent: number; maxBatch: number } = { maxConcurrent: 4, maxBatch: 500 },
  ) {}

  add(row: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxConcurrent && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      this.write(batch.map((b) => b.row))
        .then(
          () => batch.forEach((b) => b.resolve()),
          (err: unknown) => batch.forEach((b) => b.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
