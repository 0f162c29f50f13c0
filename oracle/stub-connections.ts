import { RspClient, type RspEndpoint } from './rsp/client.js';
import { RspError } from './rsp/errors.js';

export interface StubProbeOptions {
  /**
   * How long the second connection waits for its answer (default: `timeoutMs`). The first has
   * already shown that the stub answers at once, so a caller may wait less here than a slow
   * request may take: a wrong "1" costs only parallelism, and every single-client stub costs
   * this long on each run.
   */
  readonly secondTimeoutMs?: number;
}

/**
 * How many clients a gdb stub serves at once: 1 when a second connection, opened while a first
 * one is open and answering, gets no answer to `?` within `timeoutMs`; otherwise 2 (meaning "at
 * least two"). QEMU's own stub serves one client: the kernel still accepts a second connection,
 * which then waits unanswered until the first closes, so a campaign with a worker per
 * connection would wait forever. Callers run one worker when this says 1.
 *
 * Fails (with the first connection's RspError) when the stub does not answer even one client:
 * then no number of workers helps.
 */
export async function probeStubConnections(endpoint: RspEndpoint, timeoutMs: number, options: StubProbeOptions = {}): Promise<number> {
  const first = await RspClient.connect(endpoint, { timeoutMs });
  try {
    await first.request('?', { expect: 'stop' });
    let second: RspClient | undefined;
    try {
      second = await RspClient.connect(endpoint, { timeoutMs: options.secondTimeoutMs ?? timeoutMs });
      await second.request('?', { expect: 'stop' });
      return 2;
    } catch (err) {
      // refused, dropped or left unanswered while the first is open: one client at a time
      if (err instanceof RspError) return 1;
      throw err;
    } finally {
      await second?.close();
    }
  } finally {
    await first.close();
  }
}
