import { S_IFDIR, S_IFREG, writeNewc, type CpioEntry } from './cpio.js';

/**
 * The two initramfs images of a boot lockstep, both a busybox-static and a shell script as
 * `/init` (4 entries: `bin/`, `proc/`, `bin/busybox`, `init`). The kernel's built-in initramfs
 * provides `/dev/console`, so the script's output goes to the serial console.
 */

/** Printed by the lockstep image's /init once user space runs; `--until boot-ok` stops on it. */
export const BOOT_OK_MARKER = 'BOOT-OK';
export const KALLSYMS_BEGIN = 'DIFFTEST-KALLSYMS-BEGIN';
export const KALLSYMS_END = 'DIFFTEST-KALLSYMS-END';

const BB = '/bin/busybox';

function script(lines: readonly string[]): Uint8Array {
  return Buffer.from(['#!/bin/busybox sh', ...lines, ''].join('\n'), 'latin1');
}

/** /init of the lockstep image: mount proc, print the marker, power off at once. */
export const BOOT_OK_INIT = script([
  `${BB} mount -t proc proc /proc`,
  `echo ${BOOT_OK_MARKER}`,
  `${BB} poweroff -f`,
]);

/**
 * /init of the symbol image: /proc/kallsyms, gzip-compressed and base64-encoded, between two
 * markers, then power off. Compressed because the serial console is the bottleneck: the 3.8 MB
 * of text took ~20 s of a loaded 2-core machine, the 1.1 MB of base64 ~8 s (gzip's CRC also
 * checks what arrived). kptr_restrict is cleared first (with 2, even root reads zero addresses).
 */
export const KALLSYMS_INIT = script([
  `${BB} mount -t proc proc /proc`,
  `echo 0 > /proc/sys/kernel/kptr_restrict`,
  `echo ${KALLSYMS_BEGIN}`,
  `${BB} gzip -1 -c /proc/kallsyms | ${BB} base64`,
  `echo ${KALLSYMS_END}`,
  `${BB} poweroff -f`,
]);

export function buildInitramfs(busybox: Uint8Array, init: Uint8Array): Uint8Array {
  const entries: CpioEntry[] = [
    { name: 'bin', mode: S_IFDIR | 0o755, data: new Uint8Array(0) },
    { name: 'proc', mode: S_IFDIR | 0o755, data: new Uint8Array(0) },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox },
    { name: 'init', mode: S_IFREG | 0o755, data: init },
  ];
  return writeNewc(entries);
}
