import { UsageError } from '../util/errors.js';
import { isMutantName, MUTANT_NAMES } from '../emulator/mutants.js';
import { GdbRemoteTarget } from '../oracle/gdb-target.js';
import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { DEFAULT_TIMEOUT_MS, type RspEndpoint } from '../oracle/rsp/client.js';
import { probeStubConnections } from '../oracle/stub-connections.js';
import type { ExecutionTarget } from '../contracts/execution-target.js';

/**
 * The system under test, as given on the command line:
 *   emulator            our in-process emulator (default)
 *   qemu                a second QEMU over gdb (QEMU-vs-QEMU: expect zero divergences)
 *   gdb:unix:PATH       any emulator with a gdb stub on a unix socket
 *   gdb:HOST:PORT       … or on TCP
 *   host                the host CPU, running each case natively at CPL 3 (oracle/host/): a user-level campaign
 * `timeoutMs` (`--timeout`) is the per-request gdb timeout; it travels with the spec so that
 * campaign workers, which get only the spec, apply it too.
 */
export type DutSpec =
  | { kind: 'emulator'; inject: readonly string[] }
  | { kind: 'qemu'; cpuModel?: string; timeoutMs?: number }
  | { kind: 'gdb'; endpoint: RspEndpoint; timeoutMs?: number }
  | { kind: 'host'; timeoutMs?: number };

export const DUT_HELP = 'emulator | qemu | host | gdb:unix:PATH | gdb:HOST:PORT';

export interface DutSpecOptions {
  /** Per-request gdb timeout in ms (ignored by the in-process emulator). */
  readonly timeoutMs?: number;
}

export function parseDutSpec(text: string, inject: readonly string[] = [], options: DutSpecOptions = {}): DutSpec {
  for (const name of inject) {
    if (!isMutantName(name)) throw new UsageError(`unknown --inject '${name}'; valid mutants: ${MUTANT_NAMES.join(', ')}`);
  }
  if (inject.length && text !== 'emulator') throw new UsageError(`--inject plants bugs in our emulator; it cannot be used with --dut ${text}`);
  const timeout = options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {};
  if (text === 'emulator') return { kind: 'emulator', inject };
  if (text === 'qemu') return { kind: 'qemu', ...timeout };
  if (text === 'host') return { kind: 'host', ...timeout };
  const unix = /^gdb:unix:(.+)$/.exec(text);
  if (unix) return { kind: 'gdb', endpoint: { path: unix[1]! }, ...timeout };
  const tcp = /^gdb:([^:]+):(\d{1,5})$/.exec(text);
  if (tcp && Number(tcp[2]) < 65536) return { kind: 'gdb', endpoint: { host: tcp[1]!, port: Number(tcp[2]) }, ...timeout };
  throw new UsageError(`--dut '${text}' is not a system under test; use ${DUT_HELP}`);
}

export async function createDut(spec: DutSpec, cpuModel?: string): Promise<ExecutionTarget> {
  switch (spec.kind) {
    case 'emulator': {
      const { createEmulatorDut } = await import('./emulator-dut.js');
      return createEmulatorDut(spec.inject, cpuModel);
    }
    case 'qemu':
      return QemuTarget.launch({ cpuModel: spec.cpuModel ?? cpuModel, name: 'qemu-dut', timeoutMs: spec.timeoutMs });
    case 'gdb':
      return GdbRemoteTarget.connect(spec.endpoint, { name: 'gdb-dut', timeoutMs: spec.timeoutMs });
    case 'host': {
      const { HostTarget } = await import('../oracle/host/host-target.js');
      return HostTarget.start({ timeoutMs: spec.timeoutMs });
    }
  }
}

/** A stub that answered one client answers a second at once if it serves two; waiting longer only delays every run. */
const PROBE_SECOND_MS = 1500;

/**
 * How many sessions (each with its own DUT connection) to run: `workers`, or 1 for a gdb stub
 * that serves one connection at a time (QEMU's own), whose second client would wait forever for
 * its first reply. Only a gdb DUT with more than one worker is asked; a stub that answers no
 * client fails here with its RspError, before any worker starts.
 */
export async function workersForDut(spec: DutSpec, workers: number): Promise<{ workers: number; singleClient: boolean }> {
  if (spec.kind !== 'gdb' || workers < 2) return { workers, singleClient: false };
  const timeout = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const served = await probeStubConnections(spec.endpoint, timeout, { secondTimeoutMs: Math.min(timeout, PROBE_SECOND_MS) });
  return served >= 2 ? { workers, singleClient: false } : { workers: 1, singleClient: true };
}
