import type { Cpu } from '../../cpu/cpu.js';
import { type Insn, Opnd } from '../../decode/insn.js';
import { isMmxKind, isSimdKind } from '../../isa/operand-forms.js';
import type { IsaRow } from '../../isa/row.js';
import { ALL_ROWS } from '../../isa/table.js';
import { checkSse, enterMmx } from './access.js';

/**
 * The checks each SIMD row makes before its operation, decided once per row from its operands:
 * XMM operands (or MXCSR) → checkSse; MMX operands → enterMmx (after checkSse when the row has
 * both, as CVTPI2PS or MOVQ2DQ). EMMS checks for itself (it leaves MMX use). CVTPI2PS/CVTPI2PD
 * with a memory source enter MMX use in QEMU 7.2, not on the host CPU (CpuModel.simdResultsAsQemu).
 */
const enum Checks {
  None = 0,
  Sse = 1,
  Mmx = 2,
  Both = 3,
  /** CVTPI2PS/CVTPI2PD: the MMX part only for a register source, unless as QEMU. */
  MmxIfRegister = 4,
}

/** Rows on MXCSR or XMM state without an XMM operand. */
const SSE_STATE = new Set(['LDMXCSR', 'STMXCSR']);

function checksOf(r: IsaRow): Checks {
  const xmm = r.operands.some((o) => isSimdKind(o.kind) && !isMmxKind(o.kind)) || SSE_STATE.has(r.mnemonic);
  const mmx = r.operands.some((o) => isMmxKind(o.kind));
  if (r.mnemonic === 'CVTPI2PS' || r.mnemonic === 'CVTPI2PD') return Checks.Sse | Checks.MmxIfRegister;
  return ((xmm ? Checks.Sse : 0) | (mmx ? Checks.Mmx : 0)) as Checks;
}

const CHECKS = Uint8Array.from(ALL_ROWS, checksOf);

/** Availability checks (#UD, #NM, #MF) and the MMX transition for the row of `d`. */
export function begin(c: Cpu, d: Insn): void {
  const k = CHECKS[d.row.id]!;
  if (k & Checks.Sse) checkSse(c);
  if (k & Checks.Mmx || (k & Checks.MmxIfRegister && (d.ot[1] !== Opnd.Mem || c.model.simdResultsAsQemu))) enterMmx(c);
}
