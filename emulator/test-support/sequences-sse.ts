import type { MachineState } from '../../contracts/machine-state.js';
import type { SystemSequence } from './sequences-system-rows.js';

/**
 * SSE/SSE2/SSE3 and MMX sequences for the differential suite. Each starts from a fixed register
 * file (XMM0–XMM15 below, MXCSR as given, MM0–MM7 = the x87 registers below) and a data page
 * holding the vectors below at 0x20000 (RSI points there; RDI at 0x20100 is free for stores), so
 * most sequences are just the instructions under test. XMM registers and MXCSR are compared
 * after every step, the data page at the end. Expectations come from QEMU, never from this file;
 * rows where QEMU 7.2 raises no exception but the SDM (and the host CPU) does are marked as known
 * QEMU deviations.
 */
export interface SimdSequence extends SystemSequence {
  readonly sse?: NonNullable<MachineState['sse']>;
  readonly fpu?: NonNullable<MachineState['fpu']>;
  readonly cr0?: bigint;
  readonly cr4?: bigint;
  /** Bytes at the start of the data page (0x20000). */
  readonly data?: Uint8Array;
}

/** Four binary32 encodings, element 0 first. */
export function ps(...e: number[]): bigint {
  return e.reduce((v, x, i) => v | (BigInt(x >>> 0) << BigInt(32 * i)), 0n);
}

/** Two binary64 encodings, element 0 first. */
export function pd(lo: bigint, hi: bigint): bigint {
  return lo | (hi << 64n);
}

export const F32 = {
  one: 0x3f800000, m2p5: 0xc0200000, three: 0x40400000, half: 0x3f000000, onehalf: 0x3fc00000, twohalf: 0x40200000,
  mzero: 0x80000000, e10: 0x501502f9, qnan: 0x7fc00001, nqnan: 0xffc00002, inf: 0x7f800000, ninf: 0xff800000,
  denorm: 0x00000001, bigDenorm: 0x007fffff, snan: 0x7f800100, max: 0x7f7fffff, minNormal: 0x00800000,
  p2p31: 0x4f000000, m2p31: 0xcf000001, e9: 0x4eb2d05e, mhalf: 0xbf000000, tenth: 0x3dcccccd, third: 0x3eaaaaab, seven: 0x40e00000,
} as const;

export const F64 = {
  one: 0x3ff0000000000000n, m3: 0xc008000000000000n, qnan: 0x7ff8000000000001n, denorm: 0x0000000000000001n,
  e300: 0x7e37e43c8800759cn, twohalf: 0x4004000000000000n, snan: 0x7ff0000000000100n, mzero: 0x8000000000000000n,
  p2p63: 0x43e0000000000000n, m1p5: 0xbff8000000000000n, tenth: 0x3fb999999999999an, minNormal: 0x0010000000000000n,
} as const;

/** XMM0–XMM15 at the start of every sequence. */
export const XMM: readonly bigint[] = [
  0x80007fffff0001807f800102fffe8001n,
  0x01020304808163fe7fff80000000ffffn,
  ps(F32.one, F32.m2p5, F32.three, F32.half),
  ps(F32.onehalf, F32.twohalf, F32.mzero, F32.e10),
  ps(F32.qnan, F32.inf, F32.denorm, F32.snan),
  ps(F32.ninf, 0, F32.max, F32.minNormal),
  pd(F64.one, F64.m3),
  pd(F64.qnan, F64.denorm),
  pd(F64.e300, F64.twohalf),
  pd(F64.snan, F64.mzero),
  pd(3n, 0xffffffffffffffffn),
  pd(0x21n, 0n),
  0xff80017f00fe02fd7e8103fc04fb05fan,
  ps(F32.p2p31, F32.m2p31, F32.e9, F32.mhalf),
  pd(F64.p2p63, F64.m1p5),
  ps(F32.tenth, F32.third, F32.seven, 0xbf400000),
];

/** MM0–MM7 (x87 R0–R7) for MMX sequences: integer patterns, exponents zero as after QEMU's reset. */
export const MM: readonly bigint[] = [
  0x80007fffff000180n, 0x0102030480817ffen, 0xff80017f00fe02fdn, 0x00000000000000ffn,
  0x7fff8000fffe0001n, 0x0000000000000003n, 0x00000000ffffffffn, 0x1122334455667788n,
];

/** The data page's first 256 bytes. */
export const DATA: Uint8Array = (() => {
  const b = new Uint8Array(256);
  const v = new DataView(b.buffer);
  const put = (off: number, x: bigint) => {
    v.setBigUint64(off, x & 0xffffffffffffffffn, true);
    v.setBigUint64(off + 8, x >> 64n, true);
  };
  put(0x00, ps(0x40000000, 0xbf800000, 0x3e800000, F32.seven));
  put(0x10, pd(0x3ff8000000000000n, 0xbfc0000000000000n));
  put(0x20, ps(0x00400000, F32.nqnan, F32.ninf, F32.three));
  put(0x30, 0x7fff800000ff0180fe7f0280017f8001n);
  put(0x40, pd(F64.snan, 0x0000000000001234n));
  put(0x50, 0x0011223344556677ff8090a0b0c0d0e0n);
  put(0x60, pd(5n, 0n));
  put(0x70, pd(0x100n, 0n));
  put(0x80, ps(0xfffffff9, 0x7fffffff, 12345, 0x80000000));
  put(0x90, pd(0x8000000000000001n, F64.tenth));
  put(0xa0, ps(0x4f800000, 0xd0000000, 0x3f7fffff, 0xc1200000));
  put(0xb0, pd(0x41dfffffffc00000n, 0xc1e0000000200000n));
  return b;
})();

export const MXCSR_DEFAULT = 0x1f80;
/** MXCSR rounding modes: nearest, down, up, toward zero; then FZ + DAZ with nearest. */
export const ROUNDINGS = [0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9fc0] as const;

const SSE_STATE = { mxcsr: MXCSR_DEFAULT, xmm: [...XMM] };
const FPU_STATE = { fcw: 0x37f, fsw: 0, st: [...MM] };

type Add = (name: string, asm: string, options?: Partial<SimdSequence>) => void;

const SETUP = 'mov rsi, 0x20000\nmov rdi, 0x20100\n';

export function sseSequences(): SimdSequence[] {
  const out: SimdSequence[] = [];
  const add: Add = (name, asm, options = {}) =>
    out.push({ name, asm: SETUP + asm, sse: SSE_STATE, fpu: FPU_STATE, data: DATA, ...options });
  moveSequences(add);
  integerSequences(add);
  floatSequences(add);
  conversionSequences(add);
  stateSequences(add);
  return out;
}

function moveSequences(add: Add): void {
  for (const m of ['movaps', 'movups', 'movapd', 'movupd', 'movdqa', 'movdqu']) {
    add(`${m} load/store`, `${m} xmm0, xmm5\n${m} xmm9, [rsi+0x20]\n${m} [rdi+0x10], xmm3\n${m} xmm15, xmm8`);
  }
  add('movups/movdqu misaligned', 'movups xmm1, [rsi+3]\nmovdqu xmm2, [rsi+0x19]\nmovupd [rdi+5], xmm4\nmovdqu [rdi+0x1f], xmm6\nlddqu xmm7, [rsi+9]');
  add('movaps misaligned load: #GP(0)', 'movaps xmm1, [rsi+8]');
  add('movdqa misaligned store: #GP(0)', 'movdqa [rdi+4], xmm1');
  add('movntps/movntpd/movntdq/movnti/movntq', 'movntps [rdi], xmm2\nmovntpd [rdi+0x10], xmm6\nmovntdq [rdi+0x20], xmm0\nmovnti [rdi+0x30], eax\nmov rax, -3\nmovnti [rdi+0x38], rax\nmovntq [rdi+0x40], mm2');
  add('movntdq misaligned: #GP(0)', 'movntdq [rdi+8], xmm0');
  for (const m of ['movss', 'movsd']) add(`${m} forms`, `${m} xmm0, xmm4\n${m} xmm1, [rsi+0x20]\n${m} [rdi+2], xmm3\n${m} xmm9, xmm9\n${m} xmm14, [rsi+0x31]`);
  add('movhlps/movlhps', 'movhlps xmm0, xmm8\nmovlhps xmm1, xmm2\nmovhlps xmm3, xmm3');
  add('movlps/movlpd/movhps/movhpd', 'movlps xmm0, [rsi+0x10]\nmovhps xmm1, [rsi+0x23]\nmovlpd xmm2, [rsi+0x40]\nmovhpd xmm3, [rsi+0x8]\nmovlps [rdi], xmm5\nmovhps [rdi+9], xmm6\nmovlpd [rdi+0x10], xmm7\nmovhpd [rdi+0x18], xmm8');
  add('movsldup/movshdup/movddup', 'movsldup xmm0, xmm2\nmovshdup xmm1, [rsi]\nmovddup xmm3, xmm8\nmovddup xmm4, [rsi+0x13]\nmovshdup xmm5, xmm5');
  add('movd/movq general registers', 'mov rax, 0x8877665544332211\nmovd xmm0, eax\nmovq xmm1, rax\nmovd xmm12, [rsi+4]\nmovq xmm13, [rsi+0x18]\nmovd ecx, xmm3\nmovq rdx, xmm2\nmovd [rdi], xmm4\nmovq [rdi+8], xmm5\nmov r8, -1\nmovd r8d, xmm6');
  add('movd/movq mmx general registers', 'mov rax, 0x8877665544332211\nmovd mm0, eax\nmovq mm1, rax\nmovd mm2, [rsi+4]\nmovd ecx, mm7\nmovq rdx, mm7\nmovd [rdi], mm4\nmovq [rdi+8], mm1');
  add('movq xmm forms', 'movq xmm0, xmm2\nmovq xmm1, [rsi+0x10]\nmovq [rdi], xmm5\nmovq xmm14, xmm14\ndb 0x66, 0x0f, 0xd6, 0xc3');
  add('movq mm, movq2dq, movdq2q', 'movq mm0, mm7\nmovq mm1, [rsi+0x30]\nmovq [rdi], mm4\nmovq2dq xmm0, mm2\nmovdq2q mm3, xmm5');
  add('movdq2q over loaded x87 registers: bits 79..64 cleared (QEMU 7.2)', 'fninit\nfld1\nfldpi\nmovdq2q mm7, xmm5\nmovdq2q mm6, xmm9\nmovq mm5, mm6');
  add('movupd store across into an unmapped page: #PF, CR2 the first byte of that page', 'mov rdi, 0x2fff9\nmovupd [rdi], xmm3');
  add('movmskps/movmskpd/pmovmskb', 'mov rax, -1\nmovmskps eax, xmm4\nmovmskpd ecx, xmm9\npmovmskb edx, xmm0\npmovmskb ebx, mm2\nmovmskps r9d, xmm13\nmovmskps rax, xmm5');
  add('pinsrw/pextrw', 'pinsrw xmm0, eax, 9\nmov eax, 0x1234abcd\npinsrw xmm1, eax, 3\npinsrw xmm2, [rsi+0x31], 7\npinsrw mm0, eax, 6\npinsrw mm1, [rsi+1], 1\npextrw ecx, xmm0, 5\npextrw edx, xmm12, 15\npextrw ebx, mm7, 3\npextrw r10d, mm2, 5');
  add('maskmovq/maskmovdqu', 'maskmovdqu xmm12, xmm0\nmov rdi, 0x20140\nmaskmovq mm7, mm2\nmov edi, 0x20160\ndb 0x67\nmaskmovdqu xmm5, xmm12');
  add('emms', 'fninit\nfld1\nmovq mm0, mm1\nemms\nfnstsw ax\nfnstenv [rdi]');
}

/** Two-operand integer mnemonics with MMX and XMM forms. */
const INT_BINARY = [
  'paddb', 'paddw', 'paddd', 'paddq', 'psubb', 'psubw', 'psubd', 'psubq', 'paddsb', 'paddsw', 'paddusb', 'paddusw',
  'psubsb', 'psubsw', 'psubusb', 'psubusw', 'pcmpeqb', 'pcmpeqw', 'pcmpeqd', 'pcmpgtb', 'pcmpgtw', 'pcmpgtd',
  'pminub', 'pmaxub', 'pminsw', 'pmaxsw', 'pavgb', 'pavgw', 'pmullw', 'pmulhw', 'pmulhuw', 'pmuludq', 'pmaddwd', 'psadbw',
  'pand', 'pandn', 'por', 'pxor', 'punpcklbw', 'punpcklwd', 'punpckldq', 'punpckhbw', 'punpckhwd', 'punpckhdq',
  'packsswb', 'packuswb', 'packssdw',
];

function integerSequences(add: Add): void {
  for (const m of INT_BINARY) {
    add(`${m} xmm`, `${m} xmm0, xmm1\n${m} xmm12, [rsi+0x30]\n${m} xmm1, xmm12\n${m} xmm13, xmm13`);
    add(`${m} mmx`, `${m} mm0, mm1\n${m} mm2, [rsi+0x51]\n${m} mm4, mm0\n${m} mm7, mm7`);
  }
  add('punpcklqdq/punpckhqdq', 'punpcklqdq xmm0, xmm1\npunpckhqdq xmm2, [rsi+0x10]\npunpckhqdq xmm12, xmm12');
  add('packed integer m128 misaligned: #GP(0)', 'pcmpeqb xmm0, [rsi+1]');
  for (const m of ['psllw', 'pslld', 'psllq', 'psrlw', 'psrld', 'psrlq', 'psraw', 'psrad']) {
    add(`${m} by register and immediate`, `${m} xmm0, xmm10\n${m} xmm1, xmm11\n${m} xmm12, [rsi+0x60]\n${m} xmm2, 7\n${m} xmm3, 31\n${m} xmm4, 200\n${m} mm0, mm5\n${m} mm1, [rsi+0x70]\n${m} mm2, 3\n${m} mm3, 64`);
    // QEMU 7.2 checks the alignment of the right logical shifts' m128 count, not of the others
    if (m.startsWith('psrl')) {
      add(`${m} xmm, m128 misaligned: #GP(0)`, `${m} xmm0, [rsi+0x68]`);
      continue;
    }
    add(
      `${m} xmm, m128 misaligned (known QEMU deviation)`,
      `${m} xmm0, [rsi+0x68]`,
      { qemuDeviation: `QEMU 7.2 does not check the alignment of ${m.toUpperCase()} xmm, m128 (the host CPU raises #GP(0), as the SDM says)` },
    );
  }
  add('pslldq/psrldq', 'pslldq xmm0, 3\npsrldq xmm1, 5\npslldq xmm2, 16\npsrldq xmm3, 0\npsrldq xmm12, 255\npslldq xmm13, 15');
  add('pshufd/pshufhw/pshuflw/pshufw', 'pshufd xmm0, xmm1, 0x1b\npshufd xmm2, [rsi+0x30], 0xe4\npshufhw xmm3, xmm12, 0x93\npshuflw xmm4, [rsi], 0x39\npshufw mm0, mm1, 0x8d\npshufw mm2, [rsi+3], 0x72\npshufd xmm12, xmm12, 0xff');
  add('shufps/shufpd', 'shufps xmm0, xmm1, 0x4e\nshufps xmm2, [rsi], 0xb1\nshufpd xmm6, xmm8, 1\nshufpd xmm7, [rsi+0x10], 2\nshufps xmm3, xmm3, 0x1b');
  add('unpcklps/unpckhps/unpcklpd/unpckhpd', 'unpcklps xmm2, xmm3\nunpckhps xmm4, [rsi]\nunpcklpd xmm6, xmm8\nunpckhpd xmm7, [rsi+0x10]');
}

const FP_OPS = ['add', 'sub', 'mul', 'div', 'min', 'max', 'sqrt'] as const;

function floatSequences(add: Add): void {
  for (const op of FP_OPS) {
    add(`${op}ps`, `${op}ps xmm2, xmm3\n${op}ps xmm4, xmm5\n${op}ps xmm5, xmm4\n${op}ps xmm15, [rsi]\n${op}ps xmm3, [rsi+0x20]\n${op}ps xmm13, xmm15`);
    add(`${op}pd`, `${op}pd xmm6, xmm8\n${op}pd xmm7, xmm9\n${op}pd xmm9, xmm7\n${op}pd xmm8, [rsi+0x10]\n${op}pd xmm14, [rsi+0x40]`);
    add(`${op}ss`, `${op}ss xmm2, xmm3\n${op}ss xmm4, xmm5\n${op}ss xmm5, xmm4\n${op}ss xmm3, [rsi+0x21]\n${op}ss xmm15, xmm13`);
    add(`${op}sd`, `${op}sd xmm6, xmm8\n${op}sd xmm7, xmm9\n${op}sd xmm9, xmm7\n${op}sd xmm8, [rsi+0x43]\n${op}sd xmm14, xmm6`);
    for (const mxcsr of ROUNDINGS.slice(1)) {
      add(
        `${op}ps/${op}sd mxcsr 0x${mxcsr.toString(16)}`,
        `${op}ps xmm15, xmm2\n${op}ps xmm3, xmm13\n${op}ss xmm4, [rsi+0x20]\n${op}sd xmm14, xmm8\n${op}pd xmm7, xmm6\n${op}sd xmm6, [rsi+0x40]`,
        { sse: { mxcsr, xmm: [...XMM] } },
      );
    }
  }
  add('float m128 misaligned: #GP(0)', 'addps xmm0, [rsi+4]');
  add('scalar float misaligned: no check', 'addss xmm0, [rsi+1]\nmulsd xmm1, [rsi+0x13]');
  for (const form of ['ps', 'pd', 'ss', 'sd']) {
    const regs = form.endsWith('s') ? ['xmm2', 'xmm4', 'xmm5', 'xmm3'] : ['xmm6', 'xmm7', 'xmm9', 'xmm8'];
    const lines = [];
    for (let p = 0; p < 8; p++) lines.push(`cmp${form} ${regs[p % 4]}, ${regs[(p + 1) % 4]}, ${p}`);
    lines.push(`cmp${form} xmm1, ${form === 'ps' ? '[rsi+0x20]' : form === 'pd' ? '[rsi+0x40]' : '[rsi+0x24]'}, 1`, `cmp${form} xmm12, xmm12, 0x0d`);
    add(`cmp${form} predicates`, lines.join('\n'));
  }
  for (const m of ['comiss', 'ucomiss']) add(m, `${m} xmm2, xmm3\nsetc al\n${m} xmm3, xmm2\n${m} xmm4, xmm5\n${m} xmm2, xmm2\n${m} xmm5, [rsi+0x25]\n${m} xmm15, xmm4`);
  for (const m of ['comisd', 'ucomisd']) add(m, `${m} xmm6, xmm8\n${m} xmm8, xmm6\n${m} xmm7, xmm9\n${m} xmm9, xmm14\n${m} xmm14, [rsi+0x40]\n${m} xmm6, xmm6`);
  add('haddps/hsubps/haddpd/hsubpd', 'haddps xmm2, xmm3\nhsubps xmm4, [rsi]\nhaddpd xmm6, xmm8\nhsubpd xmm9, xmm7\nhaddps xmm5, xmm15');
  add('addsubps/addsubpd', 'addsubps xmm2, xmm15\naddsubps xmm4, [rsi+0x20]\naddsubpd xmm6, xmm8\naddsubpd xmm7, xmm9');
  add('rcpps/rcpss/rsqrtps/rsqrtss', 'rcpps xmm0, xmm2\nrcpss xmm1, xmm15\nrsqrtps xmm12, xmm3\nrsqrtss xmm13, [rsi+8]\nrcpps xmm10, xmm5\nrsqrtps xmm11, xmm4');
  add('andps/andnps/orps/xorps (pd)', 'andps xmm2, xmm3\nandnps xmm4, [rsi]\norps xmm5, xmm0\nxorps xmm6, xmm6\nandpd xmm7, xmm8\nandnpd xmm9, xmm1\norpd xmm14, [rsi+0x10]\nxorpd xmm8, xmm12');
  add(
    'divps unmasked ZE: #XM (known QEMU deviation)',
    'divps xmm2, xmm5',
    { sse: { mxcsr: 0x1d80, xmm: [...XMM] }, qemuDeviation: 'QEMU 7.2 never raises #XM for an unmasked SIMD floating-point exception: it sets the flag and writes the result (the host CPU faults; SDM Vol. 1 §11.5.2)' },
  );
  add(
    'addss unmasked PE without CR4.OSXMMEXCPT: #UD (known QEMU deviation)',
    'addss xmm2, xmm15',
    { sse: { mxcsr: 0x0f80, xmm: [...XMM] }, cr4: 0x220n, qemuDeviation: 'QEMU 7.2 ignores an unmasked SIMD exception also when CR4.OSXMMEXCPT is clear (the SDM raises #UD)' },
  );
  // found by difftest fuzz --family sse (seed 4): a tiny RCPPS lane came out zero with UE unmasked
  add(
    'rcpps/rcpss/rsqrtps with UE and OE unmasked: tiny and huge results written, no fault',
    'mov eax, 0x7f7f7f80\nmovd xmm1, eax\npshufd xmm1, xmm1, 0\nrcpps xmm0, xmm1\nrcpss xmm2, xmm1\nmov eax, 0x00000123\nmovd xmm5, eax\nrcpps xmm6, xmm5\nrsqrtps xmm7, xmm5',
    { sse: { mxcsr: 0x0380 | 0x6000, xmm: [...XMM] } },
  );
  add('unmasked flag already set, no new exception', 'addps xmm2, xmm3\nmovaps xmm0, xmm4', { sse: { mxcsr: 0x1d84, xmm: [...XMM] } });
}

function conversionSequences(add: Add): void {
  for (const mxcsr of ROUNDINGS) {
    const setup = { sse: { mxcsr, xmm: [...XMM] } };
    const tag = mxcsr === MXCSR_DEFAULT ? '' : ` mxcsr 0x${mxcsr.toString(16)}`;
    add(`cvtps2pd/cvtpd2ps/cvtss2sd/cvtsd2ss${tag}`, 'cvtps2pd xmm0, xmm4\ncvtps2pd xmm1, [rsi+0x24]\ncvtpd2ps xmm2, xmm8\ncvtpd2ps xmm3, [rsi+0x40]\ncvtss2sd xmm6, xmm5\ncvtsd2ss xmm15, xmm7\ncvtsd2ss xmm13, [rsi+0x90]\ncvtss2sd xmm12, [rsi+0x21]', setup);
    add(`cvtdq2ps/cvtps2dq/cvttps2dq${tag}`, 'cvtdq2ps xmm0, xmm1\ncvtdq2ps xmm12, [rsi+0x80]\ncvtps2dq xmm2, xmm13\ncvttps2dq xmm3, xmm15\ncvtps2dq xmm4, [rsi+0xa0]\ncvttps2dq xmm5, xmm2', setup);
    add(`cvtdq2pd/cvtpd2dq/cvttpd2dq${tag}`, 'cvtdq2pd xmm0, xmm1\ncvtdq2pd xmm12, [rsi+0x84]\ncvtpd2dq xmm2, xmm14\ncvttpd2dq xmm3, xmm8\ncvtpd2dq xmm4, [rsi+0xb0]\ncvttpd2dq xmm5, xmm6', setup);
    add(`cvtsi2ss/cvtsi2sd/cvt(t)ss2si/cvt(t)sd2si${tag}`, 'mov rax, 0x7fffffffffffff01\ncvtsi2ss xmm0, eax\ncvtsi2ss xmm1, rax\ncvtsi2sd xmm2, rax\ncvtsi2sd xmm3, dword [rsi+0x80]\ncvtsi2ss xmm12, qword [rsi+0x90]\ncvtss2si ecx, xmm13\ncvttss2si rdx, xmm15\ncvtsd2si r8, xmm14\ncvttsd2si r9d, xmm8\ncvtss2si rbx, [rsi+0xa8]\ncvttsd2si r10, [rsi+0xb0]\ncvtsd2si r11d, xmm9', setup);
    add(`cvtpi2ps/cvtpi2pd/cvt(t)ps2pi/cvt(t)pd2pi${tag}`, 'cvtpi2ps xmm0, mm1\ncvtpi2ps xmm1, [rsi+0x80]\ncvtpi2pd xmm2, mm4\ncvtpi2pd xmm3, [rsi+0x84]\ncvtps2pi mm0, xmm13\ncvttps2pi mm1, [rsi+0xa0]\ncvtpd2pi mm2, xmm14\ncvttpd2pi mm3, [rsi+0xb0]', setup);
  }
}

function stateSequences(add: Add): void {
  add('ldmxcsr/stmxcsr', 'stmxcsr [rdi]\nmov dword [rdi+4], 0xffff\nldmxcsr [rdi+4]\nstmxcsr [rdi+8]\nmov dword [rdi+4], 0x9fc0\nldmxcsr [rdi+4]\naddps xmm4, xmm5\nstmxcsr [rdi+12]');
  add(
    'ldmxcsr reserved bit: #GP(0) (known QEMU deviation)',
    'mov dword [rdi], 0x11f80\nldmxcsr [rdi]',
    { qemuDeviation: 'QEMU 7.2 loads MXCSR bits outside MXCSR_MASK (0xFFFF) instead of raising #GP(0) (SDM; the host CPU faults)' },
  );
  add('fxsave', 'fninit\nfld1\nfldpi\nmov rax, -1\nmov [rdi+6], rax\nfxsave [rdi]');
  add('fxsave64', 'fninit\nfldz\nfxsave64 [rdi]');
  add('fxsave misaligned: #GP(0)', 'fxsave [rdi+8]');
  add('fxrstor', 'fninit\nfxsave [rdi]\nmov dword [rdi+24], 0x7fc0\nmov dword [rdi+160], 0x12345678\nmov byte [rdi+4], 0x81\nmov word [rdi+2], 0x3800\nfxrstor [rdi]\nfnstenv [rdi+0x200]');
  add(
    'fxrstor reserved MXCSR bit: #GP(0) (known QEMU deviation)',
    'fninit\nfxsave [rdi]\nmov dword [rdi+24], 0x21f80\nfxrstor [rdi]',
    { qemuDeviation: 'QEMU 7.2 FXRSTOR loads MXCSR bits outside MXCSR_MASK instead of raising #GP(0) (SDM; the host CPU faults)' },
  );
  add('SSE with CR0.TS: #NM', 'addps xmm0, xmm1', { cr0: 0x8001003bn });
  add('SSE with CR0.EM: #UD', 'movdqa xmm0, xmm1', { cr0: 0x80010037n });
  add('SSE without CR4.OSFXSR: #UD', 'pxor xmm0, xmm0', { cr4: 0x420n });
  add('MMX with CR0.TS: #NM', 'paddb mm0, mm1', { cr0: 0x8001003bn });
  add('MMX with CR0.EM: #UD', 'paddb mm0, mm1', { cr0: 0x80010037n });
  add(
    'MMX with a pending x87 exception: #MF (known QEMU deviation)',
    'fninit\nfldz\nfld1\nfdiv st0, st1\nmov word [rdi], 0x37b\nfldcw [rdi]\nfld1\nfdiv st0, st2\nmovq mm0, mm1',
    { qemuDeviation: 'QEMU 7.2 runs an MMX instruction while an unmasked x87 exception is pending; the SDM (and the host CPU) raise #MF first' },
  );
  add('MMX without CR4.OSFXSR: runs', 'paddb mm0, mm1\npshufw mm2, mm3, 0x1b', { cr4: 0x420n });
  add('LDMXCSR with CR0.TS: #NM', 'ldmxcsr [rsi]', { cr0: 0x8001003bn });
  add('FXSAVE with CR0.TS: #NM', 'fxsave [rdi]', { cr0: 0x8001003bn });
  add('FXSAVE without CR4.OSFXSR: x87 part only', 'fninit\nfld1\nfxsave [rdi]', { cr4: 0x420n });
  add('LOCK on SSE: #UD', 'db 0xf0\naddps xmm0, xmm1');
  add('66 prefix on an NP row: other row or #UD', 'db 0x66\nrcpps xmm0, xmm1');
  add('F3 on MOVHLPS: #UD', 'db 0xf3, 0x0f, 0x12, 0xc1');
  add('MOVMSKPS with a memory operand: #UD', 'db 0x0f, 0x50, 0x06');
  add('last of F2/F3 picks the row', 'db 0xf2, 0xf3, 0x0f, 0x58, 0xd3\ndb 0x66, 0xf2, 0x0f, 0x58, 0xf0\ndb 0xf3, 0x66, 0x0f, 0x58, 0xd3');
  add('SSSE3 PSHUFB on qemu64: #UD', 'pshufb xmm0, xmm1');
}
