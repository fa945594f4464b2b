import { createLogger } from '@parley/core';
import { describe, expect, it } from 'vitest';
import { PollingJob } from '../src/polling';

/** A job whose drains each wait until the test lets them go. */
class HeldJob extends PollingJob {
  started = 0;
  private releases: (() => void)[] = [];
  constructor() {
    super(createLogger({ level: 'silent' }), 10, 'held');
  }
  async drain(): Promise<number> {
    this.started++;
    await new Promise<void>((r) => this.releases.push(r));
    return 1;
  }
  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
}

const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));

describe('PollingJob.stop()', () => {
  it('lets the drain under way finish and starts none after it, though kicks and ticks asked for one', async () => {
    const job = new HeldJob();
    job.start();
    await tick();
    expect(job.started).toBe(1);
    // Work arrived during the drain: a pass is owed when it ends.
    job.kick();
    let stopped = false;
    const stopping = job.stop().then(() => (stopped = true));
    await tick();
    expect(stopped).toBe(false);
    job.release();
    await stopping;
    job.kick();
    await tick(100);
    job.release();
    expect(job.started).toBe(1);
  });

  it('runs again once started again', async () => {
    const job = new HeldJob();
    job.start();
    await tick();
    const stopping = job.stop();
    job.release();
    await stopping;
    job.start();
    await tick();
    expect(job.started).toBe(2);
    job.release();
    const last = job.stop();
    job.release();
    await last;
  });
});
