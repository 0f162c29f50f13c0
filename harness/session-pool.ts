import { LockstepSession } from './session.js';
import type { DutSpec } from './targets.js';

export interface SessionPoolOptions {
  readonly dut: DutSpec;
  readonly cpuModel?: string;
  /** Per-request gdb timeout of the reference QEMU (the DUT's travels in its spec). */
  readonly timeoutMs?: number;
  /** Concurrent sessions (each a QEMU and a DUT); no more are opened than there are items. */
  readonly workers: number;
}

export type PoolOutcome<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: Error };

/**
 * Run `items` on up to `workers` concurrent LockstepSessions, each taking the next item when it
 * is free. An item whose run throws is reported as failed and its session replaced (its targets
 * may be in any state, a gdb connection may be gone); failing to open a session ends the pool
 * (after the items in flight) with that error: nothing would run on it. `onResult` gets each
 * item's outcome as soon as it is known, in completion order.
 */
export async function runOnSessions<T, R>(
  items: readonly T[],
  options: SessionPoolOptions,
  run: (session: LockstepSession, item: T) => Promise<R>,
  onResult: (index: number, outcome: PoolOutcome<R>) => void,
): Promise<void> {
  let next = 0;
  let fatal: Error | undefined;
  const open = () => LockstepSession.open(options.dut, options.cpuModel, { timeoutMs: options.timeoutMs });
  const worker = async () => {
    let session: LockstepSession | undefined;
    try {
      while (fatal === undefined && next < items.length) {
        session ??= await open();
        if (fatal !== undefined || next >= items.length) break; // others took the rest while this one opened
        const i = next++;
        let outcome: PoolOutcome<R>;
        try {
          outcome = { ok: true, value: await run(session, items[i]!) };
        } catch (err) {
          outcome = { ok: false, error: asError(err) };
          const broken = session;
          session = undefined;
          await broken.close();
        }
        onResult(i, outcome);
      }
    } catch (err) {
      fatal ??= asError(err);
    } finally {
      await session?.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.workers, items.length)) }, worker));
  if (fatal !== undefined) throw fatal;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
