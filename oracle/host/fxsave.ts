import type { MachineState } from '../../contracts/machine-state.js';

/**
 * The FXSAVE image (SDM Vol. 1 §10.5.1, 64-bit layout) the host runner loads into and reads from
 * the CPU, to and from MachineState's x87 and SSE parts. FXSAVE stores ST(i) in stack order;
 * MachineState holds the physical registers R0..R7 (ST(i) = R[(TOP + i) mod 8]).
 */
const FCW = 0, FSW = 2, FTW = 4, MXCSR = 24, ST = 32, XMM = 160;

type Fpu = NonNullable<MachineState['fpu']>;
type Sse = NonNullable<MachineState['sse']>;

/** FNINIT's x87 state and the reset MXCSR. */
export function defaultFx(): Uint8Array {
  const fx = new Uint8Array(512);
  const v = new DataView(fx.buffer);
  v.setUint16(FCW, 0x37f, true);
  v.setUint32(MXCSR, 0x1f80, true);
  return fx;
}

const top = (fsw: number) => (fsw >> 11) & 7;

function getLe(b: Uint8Array, at: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]!);
  return v;
}

function putLe(b: Uint8Array, at: number, n: number, v: bigint): void {
  for (let i = 0; i < n; i++) b[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

/** `fx` with the x87 and SSE parts of `state` written in (parts the state lacks are kept). */
export function withState(fx: Uint8Array, state: Pick<MachineState, 'fpu' | 'sse'>): Uint8Array {
  const out = fx.slice();
  const v = new DataView(out.buffer);
  if (state.fpu) {
    const f = state.fpu;
    v.setUint16(FCW, f.fcw, true);
    v.setUint16(FSW, f.fsw, true);
    out[FTW] = f.ftw ?? 0;
    for (let i = 0; i < 8; i++) {
      out.fill(0, ST + 16 * i, ST + 16 * i + 16);
      putLe(out, ST + 16 * i, 10, f.st[(top(f.fsw) + i) & 7]!);
    }
  }
  if (state.sse) {
    v.setUint32(MXCSR, state.sse.mxcsr, true);
    state.sse.xmm.forEach((x, i) => putLe(out, XMM + 16 * i, 16, x));
  }
  return out;
}

export function fpuOf(fx: Uint8Array): Fpu {
  const v = new DataView(fx.buffer, fx.byteOffset, fx.byteLength);
  const fsw = v.getUint16(FSW, true);
  const st: bigint[] = new Array<bigint>(8);
  for (let i = 0; i < 8; i++) st[(top(fsw) + i) & 7] = getLe(fx, ST + 16 * i, 10);
  return { fcw: v.getUint16(FCW, true), fsw, st, ftw: fx[FTW]! };
}

export function sseOf(fx: Uint8Array): Sse {
  const v = new DataView(fx.buffer, fx.byteOffset, fx.byteLength);
  return { mxcsr: v.getUint32(MXCSR, true), xmm: Array.from({ length: 16 }, (_, i) => getLe(fx, XMM + 16 * i, 16)) };
}
