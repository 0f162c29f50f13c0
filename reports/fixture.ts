/**
 * A realistic campaign result for the report tests (and for eyeballing the renderers):
 * the seed notes' `add r13, [rip+disp]` with the upper half of the sum lost, a `push imm32`
 * that is not sign-extended (a memory diff), one suppressed divergence and one oracle crash.
 */
import type { CampaignResult, DivergenceReport } from '../harness/campaign-result.js';
import type { GprName, MachineState } from '../contracts/machine-state.js';
import { LAYOUT, initialState } from '../contracts/test-machine.js';

function at(regs: Partial<Record<GprName, bigint>>, rip: bigint, rflags = 0x2n): MachineState {
  return { ...initialState(regs, rflags), rip };
}

function qword(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

export const SEED_EXPECTED_R13 = 0xefbed000dc0fcbcfn;
export const SEED_ACTUAL_R13 = 0x00000000dc0fcbcfn;
export const XSS_SIGNATURE = 'push imm32 <script>alert("x")</script> & | mem[rsp-8]';

const MOV_R13 = Uint8Array.from([0x49, 0xbd, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]);
const ADD_R13_RIP = Uint8Array.from([0x4c, 0x03, 0x2d, 0xef, 0xff, 0x00, 0x00]);

function seedDivergence(): DivergenceReport {
  const code = LAYOUT.code;
  const r13 = 0x1111111111111111n;
  return {
    signature: 'add r64, m64 [rip-relative] | gpr.r13 rflags',
    count: 37,
    caseId: 'fuzz-7f3a-000113',
    caseFile: 'corpus/divergences/fuzz-7f3a-000113.json',
    seed: '0x5eed',
    program: [
      { address: code, bytes: MOV_R13, text: 'mov r13, 0x1111111111111111' },
      { address: code + 10n, bytes: ADD_R13_RIP, text: 'add r13, [rip+0xffef]' },
    ],
    index: 1,
    initial: at({}, code),
    initialMemory: [
      { addr: code, bytes: Uint8Array.from([...MOV_R13, ...ADD_R13_RIP]) },
      { addr: LAYOUT.data, bytes: qword(0xdeadbeefcafebaben) },
    ],
    before: at({ r13 }, code + 10n),
    expected: at({ r13: SEED_EXPECTED_R13 }, code + 17n, 0x86n), // SF PF
    actual: at({ r13: SEED_ACTUAL_R13 }, code + 17n, 0x06n), // PF
    diffs: [
      { path: 'gpr.r13', width: 64, expected: SEED_EXPECTED_R13, actual: SEED_ACTUAL_R13 },
      { path: 'rflags', width: 64, expected: 0x86n, actual: 0x06n },
    ],
    memoryDiffs: [],
    flagMask: 0n,
    replayCommand: 'npx difftest replay corpus/divergences/fuzz-7f3a-000113.json --mode step',
    minimization: { fromInstructions: 23, toInstructions: 2, seconds: 4.2 },
  };
}

function pushDivergence(): DivergenceReport {
  const code = LAYOUT.code;
  const push = Uint8Array.from([0x68, 0x00, 0x00, 0x00, 0x80]);
  const rsp = LAYOUT.stackTop;
  return {
    signature: XSS_SIGNATURE,
    count: 4,
    caseId: 'fuzz-7f3a-000871',
    caseFile: 'corpus/divergences/fuzz-7f3a-000871.json',
    seed: '0x5eed',
    program: [{ address: code, bytes: push, text: 'push 0xffffffff80000000' }],
    index: 0,
    initial: at({ rax: 0xffffffffffffffffn }, code),
    initialMemory: [{ addr: code, bytes: push }],
    before: at({ rax: 0xffffffffffffffffn }, code),
    expected: at({ rax: 0xffffffffffffffffn, rsp: rsp - 8n }, code + 5n),
    actual: at({ rax: 0xffffffffffffffffn, rsp: rsp - 8n }, code + 5n),
    diffs: [],
    memoryDiffs: [{ addr: rsp - 4n, expected: Uint8Array.from([0xff, 0xff, 0xff, 0xff]), actual: Uint8Array.from([0, 0, 0, 0]) }],
    flagMask: 0n,
    replayCommand: 'npx difftest replay corpus/divergences/fuzz-7f3a-000871.json',
    minimization: { fromInstructions: 9, toInstructions: 1, seconds: 1.3 },
  };
}

function suppressedDivergence(): DivergenceReport {
  const code = LAYOUT.code;
  const bsf = Uint8Array.from([0x48, 0x0f, 0xbc, 0xc3]);
  return {
    signature: 'bsf r64, r64 | gpr.rax (source zero)',
    count: 12,
    caseId: 'fuzz-7f3a-000402',
    program: [{ address: code, bytes: bsf, text: 'bsf rax, rbx' }],
    index: 0,
    initial: at({ rax: 0x1234n }, code),
    initialMemory: [{ addr: code, bytes: bsf }],
    before: at({ rax: 0x1234n }, code),
    expected: at({ rax: 0x1234n }, code + 4n, 0x46n),
    actual: at({ rax: 0n }, code + 4n, 0x46n),
    diffs: [{ path: 'gpr.rax', width: 64, expected: 0x1234n, actual: 0n }],
    memoryDiffs: [],
    flagMask: 0x895n, // CF PF AF SF OF undefined after BSF
    replayCommand: 'npx difftest replay corpus/divergences/fuzz-7f3a-000402.json',
    suppressed: { reason: 'BSF with a zero source leaves the destination undefined (Intel); QEMU keeps it, our emulator zeroes it' },
  };
}

export function campaignFixture(): CampaignResult {
  return {
    format: 'difftest-result/1',
    runId: '2025-01-14T10-22-05-seed-5eed',
    command: 'difftest fuzz --seed 0x5eed --seconds 60 --workers 2 --mode block',
    startedAt: '2025-01-14T10:22:05.000Z',
    finishedAt: '2025-01-14T10:23:05.400Z',
    seed: '0x5eed',
    mode: 'block',
    workers: 2,
    oracle: { implementation: 'QEMU 7.2.15 (Debian 1:7.2+dfsg-7+deb12u7), TCG', cpuModel: 'qemu64' },
    dut: { name: 'emulator', implementation: 'difftest-x86 emulator 0.1.0 (in-process)', mutants: [] },
    testsRun: 128_400,
    seconds: 60.4,
    partial: false,
    divergences: [seedDivergence(), pushDivergence(), suppressedDivergence()],
    groups: [],
    coverageMissing: [],
    oracleCrashes: [{ caseId: 'fuzz-7f3a-000977', message: 'QEMU exited (signal SIGSEGV) while stepping; restarted, case skipped' }],
    coverage: [
      { row: 'add r/m64, r64', count: 4120 },
      { row: 'add r64, r/m64', count: 3981 },
      { row: 'mov r64, imm64', count: 5210 },
      { row: 'push imm32', count: 802 },
      { row: 'bsf r64, r/m64', count: 611 },
      { row: 'adc r/m16, imm16', count: 0 },
    ],
    coverageTotalRows: 6,
    assemblerRejects: [{ source: 'mov sil, ah', reason: 'keystone encoded `mov dh, ah` (REX dropped); decoder disagrees', count: 17 }],
    maskedFlags: [
      { mnemonic: 'bsf', flags: 'CF PF AF SF OF', count: 288 },
      { mnemonic: 'and', flags: 'AF', count: 1032 },
    ],
    syncRules: [
      { name: 'rdtsc', description: 'RDTSC/RDTSCP results are taken from the oracle' },
      { name: 'cpuid-hypervisor', description: 'CPUID leaf 0x40000000 follows the oracle' },
    ],
  };
}
