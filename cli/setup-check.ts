import { ensureDebianTool, ensureQemu } from '../oracle/qemu/install.js';
import { parseOptions } from './options.js';

const USAGE = `difftest setup-check [--tests]

Finds qemu-system-x86_64 (or DIFFTEST_QEMU), installs Debian's qemu-system-x86 when missing
and running as root, and prints the version. --tests also makes sure nasm is there: the test
suite checks keystone's encodings against it.`;

export const setupCheckCommand = {
  summary: 'find or install qemu-system-x86_64',
  usage: USAGE,
  async run(argv: string[]): Promise<number> {
    const { values } = parseOptions(argv, { tests: { type: 'boolean' } }, USAGE);
    const q = await ensureQemu();
    process.stdout.write(`difftest: using QEMU ${q.version} (${q.path})\n`);
    if (values.tests) {
      const nasm = await ensureDebianTool('nasm', 'nasm');
      process.stdout.write(`difftest: using nasm (${nasm}) as the reference assembler in tests\n`);
    }
    return 0;
  },
};
