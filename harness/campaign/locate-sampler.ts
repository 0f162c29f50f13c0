/**
 * Which divergent cases a worker locates in step mode. A case whose batch records differ is
 * known to diverge; locating it (stepping both targets to the first differing instruction) gives
 * its signature but costs ~10–100 ms of QEMU single-steps, while a batch settles a case in well
 * under a millisecond. On an emulator with a common bug most cases diverge, and locating each
 * one took the campaign from thousands of tests/s to a handful. So the first few are always
 * located, and after that only while locating has used less than a share of the worker's
 * testing time; the rest are saved unlocated (replayable) and counted. Only timed campaigns
 * sample (their case count depends on the machine's speed anyway); a counted one locates all.
 */
export class LocateSampler {
  private testingSince: number | undefined;
  private locateMs = 0;
  private count = 0;

  constructor(
    /** Share of testing time that locating may use. */
    private readonly share = 0.3,
    /** Divergent cases always located first. */
    private readonly always = 4,
    private readonly now: () => number = () => performance.now(),
  ) {}

  startTesting(): void {
    this.testingSince ??= this.now();
  }

  shouldLocate(): boolean {
    if (this.count < this.always) return true;
    const elapsed = this.now() - (this.testingSince ?? this.now());
    return this.locateMs < this.share * elapsed;
  }

  located(ms: number): void {
    this.count++;
    this.locateMs += ms;
  }
}
