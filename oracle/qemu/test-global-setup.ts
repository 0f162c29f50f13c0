import { killTaggedQemu } from './orphans.js';

/**
 * Tags every QEMU the test run starts (workers inherit DIFFTEST_RUN_ID), and kills any that
 * are still alive at the end, so a failing or crashed test never leaves an orphan QEMU.
 */
export function setup(): () => void {
  process.env.DIFFTEST_RUN_ID ??= `test-${process.pid}`;
  const tag = `difftest-${process.env.DIFFTEST_RUN_ID}`;
  return () => {
    const killed = killTaggedQemu(tag);
    if (killed.length) process.stderr.write(`difftest: killed ${killed.length} QEMU process(es) left by tests: ${killed.join(', ')}\n`);
  };
}
