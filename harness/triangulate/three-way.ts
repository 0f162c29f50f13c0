import type { MachineState } from '../../contracts/machine-state.js';
import type { ExceptionInfo } from '../../contracts/test-machine.js';
import { fieldLabel, spacedBytes, vectorName } from '../../reports/format.js';
import type { DivergenceReport, WhoseBug } from '../campaign-result.js';
import { compareStates, flagNames, stateFields } from '../compare.js';

/**
 * The verdict of a third opinion: the host's state after the divergent instruction against QEMU's
 * (`expected`) and the system under test's (`actual`), on every field that differed, as far as a
 * CPL 3 process can see them. Pure: the host run is done by triangulate.ts.
 */

/** RFLAGS bits that are the host CPU's own at CPL 3 (the runner keeps IF, IOPL, NT, ID and TF virtually). */
export const HOST_VISIBLE_FLAGS = 0x1n | 0x4n | 0x10n | 0x40n | 0x80n | 0x400n | 0x800n | 0x40000n;

/** Fields the host's CPL 3 process cannot show: the test machine's own descriptors, control registers, system flags. */
function visible(path: string, hostRaisedPf: boolean): boolean {
  if (/^(gpr\.|rip$|rflags$|fsBase$|gsBase$|fpu\.|sse\.)/.test(path)) return true;
  return path === 'cr2' && hostRaisedPf;
}

type ThreeWay = Pick<DivergenceReport, 'expected' | 'actual' | 'diffs' | 'memoryDiffs' | 'expectedException' | 'actualException' | 'flagMask'>;

export interface HostObservation {
  readonly state: MachineState;
  readonly exception: ExceptionInfo | undefined;
  /** The host's bytes at each of the divergence's memory differences, in order. */
  readonly memory: readonly Uint8Array[];
}

type Sides = WhoseBug['fields'][number]['sides'];
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const hex = (v: bigint) => `0x${v.toString(16)}`;

export function judge(d: ThreeWay, host: HostObservation, names = { dut: 'the emulator' }): Pick<WhoseBug, 'verdict' | 'reason' | 'fields' | 'hostAlsoDiffers'> {
  const fields: WhoseBug['fields'] = [];
  const invisible: string[] = [];
  const side = (h: unknown, e: unknown, a: unknown): Sides => (h === e ? 'qemu' : h === a ? 'emulator' : 'neither');
  const hostPf = host.exception?.vector === 14;
  const hostValues = new Map(stateFields(host.state).map(([p, , v]) => [p, v] as const));
  const mask = HOST_VISIBLE_FLAGS & ~d.flagMask;

  if (d.expectedException?.vector !== d.actualException?.vector) {
    const v = (e: ExceptionInfo | undefined) => (e ? vectorName(e.vector) : 'no exception');
    fields.push({ field: 'exception', host: v(host.exception), sides: side(host.exception?.vector, d.expectedException?.vector, d.actualException?.vector) });
  }
  for (const diff of d.diffs) {
    const label = fieldLabel(diff.path);
    if (diff.path === 'rflags') {
      const bits = (diff.expected ^ diff.actual) & ~d.flagMask;
      for (let b = 0n; b < 64n; b++) {
        const m = 1n << b;
        if (!(bits & m)) continue;
        const name = flagNames(m) || `bit ${b}`;
        if (!(m & mask)) {
          invisible.push(`RFLAGS.${name}`);
          continue;
        }
        const h = host.state.rflags & m;
        fields.push({ field: `RFLAGS.${name}`, host: h ? '1' : '0', sides: side(h, diff.expected & m, diff.actual & m) });
      }
      continue;
    }
    const h = hostValues.get(diff.path);
    if (!visible(diff.path, hostPf) || h === undefined) {
      invisible.push(label);
      continue;
    }
    fields.push({ field: label, host: hex(h), sides: side(h, diff.expected, diff.actual) });
  }
  d.memoryDiffs.forEach((m, i) => {
    const h = host.memory[i]!;
    const s: Sides = sameBytes(h, m.expected) ? 'qemu' : sameBytes(h, m.actual) ? 'emulator' : 'neither';
    fields.push({ field: `memory ${hex(m.addr)} (${m.expected.length} bytes)`, host: spacedBytes(h), sides: s });
  });

  // where QEMU and the system under test agree, the host should too: if not, the verdict has a caveat
  const diffPaths = new Set(d.diffs.map((x) => x.path));
  const hostAlsoDiffers = compareStates(d.expected, host.state, { flagMask: ~mask & ((1n << 64n) - 1n) })
    .filter((x) => !diffPaths.has(x.path) && visible(x.path, hostPf))
    .map((x) => fieldLabel(x.path));

  const named = (s: Sides) => fields.filter((f) => f.sides === s).map((f) => f.field);
  const [withQemu, withDut, withNeither] = [named('qemu'), named('emulator'), named('neither')];
  const caveat = hostAlsoDiffers.length ? `; but the host also differs from both in ${hostAlsoDiffers.join(', ')}` : '';
  if (fields.length === 0) {
    return { verdict: 'none', reason: `no third opinion: what differs (${invisible.join(', ') || 'nothing the comparison records'}) is not visible to a CPL 3 process`, fields, hostAlsoDiffers };
  }
  const unseen = invisible.length ? ` (not seen at CPL 3: ${invisible.join(', ')})` : '';
  if (withQemu.length === fields.length) {
    return { verdict: 'emulator', reason: `the host agrees with QEMU on ${withQemu.join(', ')}${unseen}${caveat}`, fields, hostAlsoDiffers };
  }
  if (withDut.length === fields.length) {
    return { verdict: 'qemu', reason: `the host agrees with ${names.dut} on ${withDut.join(', ')}${unseen}${caveat}`, fields, hostAlsoDiffers };
  }
  const parts = [
    withNeither.length ? `agrees with neither on ${withNeither.join(', ')}` : '',
    withQemu.length ? `with QEMU on ${withQemu.join(', ')}` : '',
    withDut.length ? `with ${names.dut} on ${withDut.join(', ')}` : '',
  ].filter(Boolean);
  return { verdict: 'both', reason: `both differ from the host: it ${parts.join('; ')}${unseen}${caveat}`, fields, hostAlsoDiffers };
}
