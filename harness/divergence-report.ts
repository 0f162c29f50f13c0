import { caseCodeAddress, caseCodeBits, type Case } from '../corpus/case-schema.js';
import { decodeAll } from './asm/decode.js';
import type { DivergenceReport } from './campaign-result.js';
import { machineForCase, type Divergence } from './lockstep.js';
import { divergenceSignature } from './signature.js';

export interface DivergenceContext {
  readonly caseFile?: string;
  readonly seed?: string;
  readonly count?: number;
  readonly replayCommand: string;
  readonly minimization?: DivergenceReport['minimization'];
}

/** Everything a report shows about one divergence, from the case and the lockstep result. */
export function buildDivergenceReport(c: Case, d: Divergence, ctx: DivergenceContext): DivergenceReport {
  const machine = machineForCase(c);
  const bits = caseCodeBits(c);
  const program = decodeAll(c.code, caseCodeAddress(c), bits).map((i) => ({ address: i.address, bytes: i.bytes, text: i.text }));
  const index = Math.max(0, program.findIndex((i) => i.address === d.rip));
  return {
    signature: divergenceSignature(d),
    count: ctx.count ?? 1,
    caseId: c.id,
    caseFile: ctx.caseFile,
    seed: ctx.seed ?? c.provenance.seed,
    program,
    ...(bits !== 64 ? { codeBits: bits } : {}),
    index,
    step: d.index,
    initial: machine.state,
    initialMemory: c.memory,
    before: d.before,
    expected: d.expected,
    actual: d.actual,
    diffs: d.diffs,
    memoryDiffs: d.memoryDiffs,
    expectedException: d.expectedException,
    actualException: d.actualException,
    flagMask: d.flagMask,
    replayCommand: ctx.replayCommand,
    minimization: ctx.minimization,
  };
}
