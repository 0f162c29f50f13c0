import { describe, expect, it } from 'vitest';
import { KeystoneError, KeystoneX86 } from './keystone.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('KeystoneX86', () => {
  it('assembles a multi-line program at an address', async () => {
    const ks = await KeystoneX86.create();
    expect(hex(ks.assemble('mov r13, 0x1111111111111111\nadd r13, [rip+0x10]', 0x1000n))).toBe(
      '49bd11111111111111114c032d10000000',
    );
    expect(hex(ks.assemble('jmp 0x1000', 0x1000n))).toBe('ebfe');
    ks.close();
  });

  it('throws KeystoneError for invalid input and stays usable', async () => {
    const ks = await KeystoneX86.create();
    expect(() => ks.assemble('frobnicate eax')).toThrow(KeystoneError);
    expect(hex(ks.assemble('nop'))).toBe('90');
    expect(ks.stats.recreations).toBe(0);
    ks.close();
  });

  it('reports the LLVM fatal message for high-byte + REX, without touching process.exitCode', async () => {
    const ks = await KeystoneX86.create();
    const before = process.exitCode;
    const r = ks.tryAssemble('mov r8b, ah');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.fatal).toBe(true);
      expect(r.error.message).toMatch(/Cannot encode high byte register in REX-prefixed instruction/);
    }
    expect(process.exitCode).toBe(before);
    ks.close();
  });

  it('recreates a dead instance: 30 fatal high-byte/REX failures, then a valid program', async () => {
    // restoreStackAfterFatal: false reproduces the raw package behaviour (dies after ~22)
    const ks = await KeystoneX86.create({ restoreStackAfterFatal: false });
    for (let i = 0; i < 30; i++) expect(ks.tryAssemble(i % 2 ? 'mov r8b, ah' : 'add ah, r9b').ok).toBe(false);
    expect(hex(ks.assemble('add rax, 1\nmov ah, bl'))).toBe('4883c00188dc');
    expect(ks.stats.recreations).toBeGreaterThanOrEqual(1);
    expect(ks.stats.fatalErrors).toBeGreaterThanOrEqual(30);
    ks.close();
  });

  it('with the stack pointer restored, 30 fatal failures do not kill the instance', async () => {
    const ks = await KeystoneX86.create();
    for (let i = 0; i < 30; i++) expect(ks.tryAssemble('mov r8b, ah').ok).toBe(false);
    expect(hex(ks.assemble('add rax, 1'))).toBe('4883c001');
    expect(ks.stats.recreations).toBe(0);
    ks.close();
  });

  it('survives hundreds of fatal failures (heap exhaustion) via assembleAsync', async () => {
    const ks = await KeystoneX86.create();
    for (let i = 0; i < 700; i++) {
      await expect(ks.assembleAsync('mov r8b, ah\nadd rax, rbx\nmov rcx, [r12+r13*8+0x100]')).rejects.toThrow(KeystoneError);
    }
    expect(hex(await ks.assembleAsync('add rax, 1'))).toBe('4883c001');
    expect(ks.stats.recreations).toBeGreaterThanOrEqual(1);
    ks.close();
  });
});
