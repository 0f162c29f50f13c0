import { ensureQemu } from '../oracle/qemu/install.js';

export const setupCheckCommand = {
  summary: 'find or install qemu-system-x86_64',
  usage: 'difftest setup-check\n\nFinds qemu-system-x86_64 (or DIFFTEST_QEMU), installs Debian\'s qemu-system-x86 when missing and running as root, and prints the version.',
  async run(): Promise<number> {
    const q = await ensureQemu();
    process.stdout.write(`difftest: using QEMU ${q.version} (${q.path})\n`);
    return 0;
  },
};
