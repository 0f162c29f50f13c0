import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { QemuProcess } from '../../../oracle/qemu/launcher.js';
import { KALLSYMS_BEGIN, KALLSYMS_END } from './initramfs.js';

/**
 * The kernel's symbol table, taken from the kernel itself: a QEMU-only boot (no lockstep, no
 * icount) of the kernel with the symbol initramfs, whose /init prints /proc/kallsyms to the
 * serial console. `loglevel=1` keeps kernel messages from breaking into the printed lines.
 * Addresses are the link-time ones: a PVH boot does not relocate, and `nokaslr` is passed.
 */

export class KallsymsBootError extends Error {
  override readonly name = 'KallsymsBootError';
}

export const KALLSYMS_APPEND = 'console=ttyS0 nokaslr panic=-1 loglevel=1';

/** The kallsyms text out of the serial log, or undefined while the end marker has not arrived. */
export function kallsymsFromSerial(serial: string): string | undefined {
  const lines = serial.split(/\r?\n/);
  const begin = lines.indexOf(KALLSYMS_BEGIN);
  const end = lines.indexOf(KALLSYMS_END, begin + 1);
  if (begin < 0 || end < 0) return undefined;
  const b64 = lines.slice(begin + 1, end).filter((l) => /^[A-Za-z0-9+/=]+$/.test(l)).join('');
  try {
    return gunzipSync(Buffer.from(b64, 'base64')).toString('latin1');
  } catch (err) {
    throw new KallsymsBootError(`the symbol boot printed a damaged table (${(err as Error).message})`);
  }
}

export interface KallsymsBootOptions {
  readonly kernel: string;
  readonly initrd: string;
  /** Where the serial log goes (kept for diagnosis). */
  readonly workDir: string;
  readonly memoryMiB?: number;
  readonly timeoutMs?: number;
}

/** Boot, wait for the end marker, return the kallsyms text. */
export async function collectKallsyms(options: KallsymsBootOptions): Promise<string> {
  const serialPath = path.join(options.workDir, 'kallsyms-serial.txt');
  const qemu = await QemuProcess.launch({
    memoryMiB: options.memoryMiB ?? 512,
    extraArgs: ['-kernel', options.kernel, '-initrd', options.initrd, '-append', KALLSYMS_APPEND, '-serial', `file:${serialPath}`],
  });
  const timeoutMs = options.timeoutMs ?? 180_000;
  const deadline = Date.now() + timeoutMs;
  try {
    await qemu.qmp.execute('cont');
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      const serial = await readFile(serialPath, 'latin1').catch(() => '');
      const text = kallsymsFromSerial(serial);
      if (text !== undefined) return text;
      const status = qemu.hasExited ? 'exited' : (await qemu.qmp.status()).status;
      if (status === 'shutdown' || status === 'exited' || status === 'guest-panicked') {
        const tail = serial.trim().split(/\r?\n/).slice(-1)[0] ?? '';
        throw new KallsymsBootError(`the symbol boot ended (${status}) without printing the table; last console line: '${tail.slice(0, 160)}'`);
      }
      if (Date.now() > deadline) {
        throw new KallsymsBootError(`the symbol boot did not print the table within ${Math.round(timeoutMs / 1000)} s (serial log: ${serialPath})`);
      }
    }
  } finally {
    await qemu.close();
  }
}
