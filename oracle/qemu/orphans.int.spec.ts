import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ensureQemu } from './install.js';
import { findTaggedQemu, reapOrphanedQemu } from './orphans.js';

describe('orphaned QEMU processes', () => {
  it('are killed when the difftest process that owned them is gone', async () => {
    const exited = execa('true');
    const gone = exited.pid!; // a pid that has exited
    await exited;
    const qemu = await ensureQemu();
    const tag = `difftest-${gone}`;
    const child = execa(qemu.path, ['-name', tag, '-S', '-display', 'none', '-nodefaults', '-machine', 'none'], { reject: false });
    for (let i = 0; i < 200 && findTaggedQemu(tag).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(findTaggedQemu(tag)).toHaveLength(1);
    expect(reapOrphanedQemu()).toContain(child.pid);
    await child;
    expect(findTaggedQemu(tag)).toHaveLength(0);
  });
});
