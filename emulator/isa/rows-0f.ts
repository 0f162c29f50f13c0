import { CONDITIONS, CONDITION_FLAGS, row, type IsaRow } from './row.js';

/** The two-byte map (0F xx), integer and system rows (SDM Vol. 2 Table A-3); the SIMD rows are in rows-sse.ts and rows-sse-int.ts. */
function twoByte(): IsaRow[] {
  const rows: IsaRow[] = [];
  const add = (r: IsaRow) => rows.push(r);
  const M = '0f' as const;

  // Group 6
  add(row(M, 0x00, 'SLDT', 'Ew', { ext: 0 }));
  add(row(M, 0x00, 'STR', 'Ew', { ext: 1 }));
  add(row(M, 0x00, 'LLDT', 'Ew', { ext: 2, priv: true }));
  add(row(M, 0x00, 'LTR', 'Ew', { ext: 3, priv: true }));
  add(row(M, 0x00, 'VERR', 'Ew', { ext: 4, w: 'z', handler: 'verify', arg: 0 }));
  add(row(M, 0x00, 'VERW', 'Ew', { ext: 5, w: 'z', handler: 'verify', arg: 1 }));
  // Group 7 (memory forms)
  add(row(M, 0x01, 'SGDT', 'M', { ext: 0, mod: 'mem' }));
  add(row(M, 0x01, 'SIDT', 'M', { ext: 1, mod: 'mem' }));
  add(row(M, 0x01, 'LGDT', 'M', { ext: 2, mod: 'mem', priv: true }));
  add(row(M, 0x01, 'LIDT', 'M', { ext: 3, mod: 'mem', priv: true }));
  add(row(M, 0x01, 'SMSW', 'Ew', { ext: 4 }));
  add(row(M, 0x01, 'LMSW', 'Ew', { ext: 6, priv: true }));
  add(row(M, 0x01, 'INVLPG', 'M', { ext: 7, mod: 'mem', priv: true }));
  // Group 7 (register forms)
  add(row(M, 0x01, 'SWAPGS', '', { ext: 7, mod: 'reg', rm: 0, priv: true }));
  add(row(M, 0x01, 'RDTSCP', '', { ext: 7, mod: 'reg', rm: 1, feature: 'rdtscp' }));
  add(row(M, 0x02, 'LAR', 'Gv,Ew', { w: 'z' }));
  add(row(M, 0x03, 'LSL', 'Gv,Ew', { w: 'z' }));
  add(row(M, 0x05, 'SYSCALL', '', { w: 'oszapcdit' }));
  add(row(M, 0x06, 'CLTS', '', { priv: true }));
  // privileged, but #UD (EFER.SCE clear, outside 64-bit mode) comes before #GP at CPL > 0: the handler checks both
  add(row(M, 0x07, 'SYSRET', '', { w: 'oszapcdit' }));
  add(row(M, 0x08, 'INVD', '', { priv: true, handler: 'nop' }));
  add(row(M, 0x09, 'WBINVD', '', { priv: true, handler: 'nop' }));
  add(row(M, 0x0b, 'UD2', '', { handler: 'ud' }));
  add(row(M, 0x0d, 'PREFETCHW', 'M', { handler: 'nop', mod: 'mem' }));
  // Hint NOPs and prefetches: 0F 18–0F 1F with a ModRM (the multi-byte NOP is 0F 1F /0).
  for (let op = 0x18; op <= 0x1f; op++) add(row(M, op, 'NOP', 'Ev', { handler: 'nop' }));
  add(row(M, 0x20, 'MOV', 'Rq,Cq', { priv: true, handler: 'mov_from_cr' }));
  add(row(M, 0x21, 'MOV', 'Rq,Dq', { priv: true, handler: 'mov_from_dr' }));
  add(row(M, 0x22, 'MOV', 'Cq,Rq', { priv: true, handler: 'mov_to_cr' }));
  add(row(M, 0x23, 'MOV', 'Dq,Rq', { priv: true, handler: 'mov_to_dr' }));
  add(row(M, 0x30, 'WRMSR', '', { priv: true }));
  add(row(M, 0x31, 'RDTSC', ''));
  add(row(M, 0x32, 'RDMSR', '', { priv: true }));
  add(row(M, 0x33, 'RDPMC', ''));
  CONDITIONS.forEach((cc, i) => {
    add(row(M, 0x40 + i, `CMOV${cc.toUpperCase()}`, 'Gv,Ev', { r: CONDITION_FLAGS[i], handler: 'cmov', arg: i }));
    add(row(M, 0x80 + i, `J${cc.toUpperCase()}`, 'Jz', { size: 'd64', r: CONDITION_FLAGS[i], handler: 'jcc', arg: i }));
    add(row(M, 0x90 + i, `SET${cc.toUpperCase()}`, 'Eb', { r: CONDITION_FLAGS[i], handler: 'setcc', arg: i }));
  });
  add(row(M, 0xa0, 'PUSH FS', '', { size: 'd64', handler: 'push_sreg', arg: 4 }));
  add(row(M, 0xa1, 'POP FS', '', { size: 'd64', handler: 'pop_sreg', arg: 4 }));
  add(row(M, 0xa2, 'CPUID', ''));
  add(row(M, 0xa3, 'BT', 'Ev,Gv', { w: 'c', u: 'osap', handler: 'bt', arg: 0 }));
  add(row(M, 0xa4, 'SHLD', 'Ev,Gv,Ib', { w: 'oszapc', u: 'oa', handler: 'shld' }));
  add(row(M, 0xa5, 'SHLD', 'Ev,Gv,CL', { w: 'oszapc', u: 'oa', handler: 'shld' }));
  add(row(M, 0xa8, 'PUSH GS', '', { size: 'd64', handler: 'push_sreg', arg: 5 }));
  add(row(M, 0xa9, 'POP GS', '', { size: 'd64', handler: 'pop_sreg', arg: 5 }));
  add(row(M, 0xab, 'BTS', 'Ev,Gv', { w: 'c', u: 'osap', lock: true, handler: 'bt', arg: 1 }));
  add(row(M, 0xac, 'SHRD', 'Ev,Gv,Ib', { w: 'oszapc', u: 'oa', handler: 'shrd' }));
  add(row(M, 0xad, 'SHRD', 'Ev,Gv,CL', { w: 'oszapc', u: 'oa', handler: 'shrd' }));
  // Group 15: fences (register forms) and CLFLUSH; FXSAVE, FXRSTOR, LDMXCSR, STMXCSR are in rows-sse.ts.
  add(row(M, 0xae, 'LFENCE', '', { ext: 5, mod: 'reg', handler: 'nop' }));
  add(row(M, 0xae, 'MFENCE', '', { ext: 6, mod: 'reg', handler: 'nop' }));
  add(row(M, 0xae, 'SFENCE', '', { ext: 7, mod: 'reg', handler: 'sfence' }));
  // CLFLUSH is NP: 66 0F AE /7 is CLFLUSHOPT, which no model here has, and F2/F3 make it #UD (QEMU
  // 7.2 translate.c checks 66 first, so 66 F2 0F AE /7 is CLFLUSHOPT's #UD as well).
  add(row(M, 0xae, 'CLFLUSH', 'M', { ext: 7, mod: 'mem', prefix: 'np', handler: 'nop' }));
  add(row(M, 0xaf, 'IMUL', 'Gv,Ev', { w: 'oszapc', u: 'szap', handler: 'imul2' }));
  add(row(M, 0xb0, 'CMPXCHG', 'Eb,Gb', { w: 'oszapc', lock: true }));
  add(row(M, 0xb1, 'CMPXCHG', 'Ev,Gv', { w: 'oszapc', lock: true }));
  add(row(M, 0xb2, 'LSS', 'Gv,M', { handler: 'load_far_pointer', arg: 2 }));
  add(row(M, 0xb4, 'LFS', 'Gv,M', { handler: 'load_far_pointer', arg: 4 }));
  add(row(M, 0xb5, 'LGS', 'Gv,M', { handler: 'load_far_pointer', arg: 5 }));
  add(row(M, 0xb3, 'BTR', 'Ev,Gv', { w: 'c', u: 'osap', lock: true, handler: 'bt', arg: 2 }));
  add(row(M, 0xb6, 'MOVZX', 'Gv,Eb'));
  add(row(M, 0xb7, 'MOVZX', 'Gv,Ew'));
  add(row(M, 0xb8, 'POPCNT', 'Gv,Ev', { prefix: 0xf3, w: 'oszapc', feature: 'popcnt' }));
  add(row(M, 0xb9, 'UD1', 'Gv,Ev', { handler: 'ud' }));
  add(row(M, 0xba, 'BT', 'Ev,Ib', { ext: 4, w: 'c', u: 'osap', handler: 'bt', arg: 0 }));
  add(row(M, 0xba, 'BTS', 'Ev,Ib', { ext: 5, w: 'c', u: 'osap', lock: true, handler: 'bt', arg: 1 }));
  add(row(M, 0xba, 'BTR', 'Ev,Ib', { ext: 6, w: 'c', u: 'osap', lock: true, handler: 'bt', arg: 2 }));
  add(row(M, 0xba, 'BTC', 'Ev,Ib', { ext: 7, w: 'c', u: 'osap', lock: true, handler: 'bt', arg: 3 }));
  add(row(M, 0xbb, 'BTC', 'Ev,Gv', { w: 'c', u: 'osap', lock: true, handler: 'bt', arg: 3 }));
  // F3 0F BC/BD are TZCNT/LZCNT only with BMI1/ABM; otherwise the F3 is ignored and they are BSF/BSR.
  add(row(M, 0xbc, 'TZCNT', 'Gv,Ev', { prefix: 0xf3, w: 'zc', u: 'osap', feature: 'bmi1' }));
  add(row(M, 0xbd, 'LZCNT', 'Gv,Ev', { prefix: 0xf3, w: 'zc', u: 'osap', feature: 'lzcnt' }));
  add(row(M, 0xbc, 'BSF', 'Gv,Ev', { w: 'z', u: 'osapc', handler: 'bsf' }));
  add(row(M, 0xbd, 'BSR', 'Gv,Ev', { w: 'z', u: 'osapc', handler: 'bsr' }));
  add(row(M, 0xbe, 'MOVSX', 'Gv,Eb'));
  add(row(M, 0xbf, 'MOVSX', 'Gv,Ew'));
  add(row(M, 0xc0, 'XADD', 'Eb,Gb', { w: 'oszapc', lock: true }));
  add(row(M, 0xc1, 'XADD', 'Ev,Gv', { w: 'oszapc', lock: true }));
  // CMPXCHG8B, or CMPXCHG16B with REX.W.
  add(row(M, 0xc7, 'CMPXCHG8B', 'M', { ext: 1, mod: 'mem', w: 'z', lock: true, handler: 'cmpxchg8b' }));
  // RDRAND: F2/F3 make it #UD (as in QEMU 7.2); 0x66 selects the 16-bit form.
  add(row(M, 0xc7, 'RDRAND', 'Rv', { ext: 6, mod: 'reg', prefix: 'none', w: 'oszapc', feature: 'rdrand' }));
  for (let r = 0; r < 8; r++) add(row(M, 0xc8 + r, 'BSWAP', 'Zv'));
  add(row(M, 0xff, 'UD0', 'Gv,Ev', { handler: 'ud' }));
  return rows;
}

export const TWO_BYTE_ROWS: readonly IsaRow[] = twoByte();

/**
 * 0F 38 / 0F 3A rows: only MOVBE matters for the integer ISA (absent from qemu64, so it decodes
 * as #UD there). In these maps 0x66 is matched as a mandatory prefix, so MOVBE's 16-bit form
 * (66 0F 38 F0/F1) is a row of its own; F2 0F 38 F0/F1 is CRC32 (SSE4.2, not here).
 */
export const THREE_BYTE_ROWS: readonly IsaRow[] = [
  row('0f38', 0xf0, 'MOVBE', 'Gv,Mv', { prefix: 'np', feature: 'movbe' }),
  row('0f38', 0xf1, 'MOVBE', 'Mv,Gv', { prefix: 'np', feature: 'movbe' }),
  row('0f38', 0xf0, 'MOVBE', 'Gv,Mv', { prefix: 0x66, feature: 'movbe' }), // 16-bit; REX.W still wins (SDM)
  row('0f38', 0xf1, 'MOVBE', 'Mv,Gv', { prefix: 0x66, feature: 'movbe' }),
];
