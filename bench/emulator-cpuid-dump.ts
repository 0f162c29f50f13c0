import { QemuTarget } from '../oracle/qemu/qemu-target.js';
import { buildTestMachine } from '../contracts/test-machine.js';
const q = await QemuTarget.launch();
const leaves: Array<[number, number]> = [[0,0],[1,0],[2,0],[4,0],[5,0],[6,0],[7,0],[7,1],[0xa,0],[0xb,0],[0xd,0],[0xd,1],[0x80000000,0],[0x80000001,0],[0x80000002,0],[0x80000003,0],[0x80000004,0],[0x80000005,0],[0x80000006,0],[0x80000007,0],[0x80000008,0],[0x8000000a,0],[0x40000000,0],[0x40000001,0],[0x14,0],[0x80000009,0]];
for (const [leaf, sub] of leaves) {
  const code = Uint8Array.from([0x0f, 0xa2]);
  const tm = buildTestMachine({ code, regs: { rax: BigInt(leaf), rcx: BigInt(sub) } });
  await q.reset(tm.state, tm.memory);
  await q.step();
  const s = await q.readState();
  console.log(JSON.stringify([leaf.toString(16), sub, [s.gpr.rax, s.gpr.rbx, s.gpr.rcx, s.gpr.rdx].map((v) => '0x' + v.toString(16))]));
}
await q.close();
