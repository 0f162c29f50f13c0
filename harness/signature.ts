import { flagNames, type FieldDiff } from './compare.js';
import type { Divergence } from './lockstep.js';

/** The fields a divergence touches, with RFLAGS broken down by flag ("rflags.CF"). */
export function diffFields(diffs: readonly FieldDiff[]): string[] {
  const out: string[] = [];
  for (const d of diffs) {
    if (d.path === 'rflags') {
      const names = flagNames(d.expected ^ d.actual);
      out.push(...(names ? names.split(' ').map((n) => `rflags.${n}`) : ['rflags']));
    } else {
      out.push(d.path);
    }
  }
  return out.sort();
}

/**
 * iced's text of a RIP-relative operand: `[rip+0x10]`, `[rip-4]`, `[rip]` (no displacement),
 * `[eip+0x10]` (0x67: 32-bit RIP-relative), optionally `fs:`/`gs:`. Address bugs of that form
 * (an emulator's, or QEMU's SHLD/SHRD imm8 one) must not be filed under ' mem'.
 */
/** Exceptions delivered after the instruction completed (SDM Vol. 3 Table 6-1: traps). */
const TRAPS: ReadonlySet<number> = new Set([1, 3, 4]);

const RIP_RELATIVE = /\[(?:[a-z]s:)?[er]ip(?:[+-]|\])/;

/** A signature's instruction part: iced's form plus the operand kind, e.g. `ADD r/m64, r64 rip-rel`. */
export function instructionForm(ins: Divergence['instruction']): string {
  if (!ins) return 'undecodable';
  return `${ins.form}${RIP_RELATIVE.test(ins.text) ? ' rip-rel' : /\[/.test(ins.text) ? ' mem' : ' reg'}`;
}

/**
 * Divergences with the same signature are one bug: the instruction form (iced's, e.g.
 * "ADD r64, r/m64" plus whether the operand was memory/RIP-relative) and what differed.
 * Register numbers and values are left out on purpose, so R8 and R13 variants merge; two facts
 * about values stay, because known QEMU deviations hinge on them: a segment selector the
 * reference loaded as null reads `seg.ss.selector=null`, and an exception both sides raised
 * reads `exception:14/14` (a fault, not a trap).
 */
export function divergenceSignature(d: Divergence): string {
  const nullSelector = new Set(
    d.diffs.filter((f) => /^seg\.[a-z]s\.selector$/.test(f.path) && (f.expected & 0xfffcn) === 0n).map((f) => f.path),
  );
  const what: string[] = diffFields(d.diffs).map((f) =>
    nullSelector.has(f) ? `${f}=null` : f.replace(/^gpr\..*/, 'gpr').replace(/^sse\.xmm\[\d+\]/, 'xmm'),
  );
  if (d.memoryDiffs.length) what.push('memory');
  if (d.expectedStop.kind !== d.actualStop.kind) what.push(`stop:${d.expectedStop.kind}/${d.actualStop.kind}`);
  const [ref, dut] = [d.expectedException?.vector, d.actualException?.vector];
  // both sides raising the same fault is named too (`exception:14/14`): a difference in the frame
  // a fault pushed, the instruction undone, is not the same bug as one in an instruction's result.
  // Traps (#DB single-step, #BP, #OF) come after an instruction completed: nothing to tell apart.
  if (ref !== dut || (ref !== undefined && !TRAPS.has(ref))) what.push(`exception:${ref ?? '-'}/${dut ?? '-'}`);
  return `${instructionForm(d.instruction)} :: ${[...new Set(what)].join(',') || 'unknown'}`;
}
