import { closeSync, existsSync, openSync, readdirSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Guest RAM that QEMU maps from a file we hold open too (`-object memory-backend-file,share=on`),
 * so physical memory is read and written with pread/pwrite instead of hex `m`/`M` packets through
 * the gdb stub (a batch's ~90 KiB of staged data: the stub's parsing was 6% of a worker's time).
 *
 * Writes this way bypass QEMU's dirty tracking, so QEMU does not invalidate code it translated
 * from the written bytes (a guest store or a stub write would): only memory the guest never
 * executes may be written here (QemuTarget.writeDataMemory; the caller vouches for it). Reads are
 * always exact while the vCPU is stopped: TCG's stores go straight to the shared pages.
 *
 * The file lives on tmpfs (/dev/shm) when there is one, so its pages are never written back to a
 * disk, and is unlinked as soon as both processes hold it: nothing is left behind whatever ends them.
 */
export class SharedRam {
  private constructor(
    private fd: number | undefined,
    /** RAM size in bytes. */
    readonly size: number,
  ) {}

  /** Where QEMU should create the RAM file (it creates it; `open` then takes it over). */
  static placeFile(privateDir: string): string {
    const dir = existsSync('/dev/shm') ? '/dev/shm' : privateDir;
    return path.join(dir, `difftest-ram-${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  /** QEMU's arguments backing `-machine pc`'s RAM with `file`. */
  static qemuArgs(file: string, memoryMiB: number): string[] {
    return ['-object', `memory-backend-file,id=pc.ram,size=${memoryMiB}M,mem-path=${file},share=on`, '-machine', 'pc,memory-backend=pc.ram'];
  }

  /** Open the file QEMU created and unlink it (QEMU keeps its mapping). */
  static open(file: string, memoryMiB: number): SharedRam {
    const fd = openSync(file, 'r+');
    unlinkSync(file);
    return new SharedRam(fd, memoryMiB * 1024 * 1024);
  }

  /**
   * Remove RAM files in /dev/shm whose difftest process is gone: one killed (SIGKILL) between
   * QEMU creating its file and `open` unlinking it leaves it behind. Returns how many.
   */
  static reapStale(): number {
    if (!existsSync('/dev/shm')) return 0;
    let removed = 0;
    for (const f of readdirSync('/dev/shm')) {
      const owner = /^difftest-ram-(\d+)-[0-9a-f]+$/.exec(f);
      if (!owner || processAlive(Number(owner[1]))) continue;
      rmSync(path.join('/dev/shm', f), { force: true });
      removed++;
    }
    return removed;
  }

  /** Remove a RAM file that was never taken over (a launch that failed). */
  static discard(file: string): void {
    rmSync(file, { force: true });
  }

  /**
   * Whether [addr, addr + length) is plain RAM at the same file offset: inside RAM and clear of
   * the PC's legacy hole (VGA window and ROMs at 0xa0000–0xfffff), where the guest sees devices.
   */
  covers(addr: bigint, length: number): boolean {
    if (this.fd === undefined || length === 0) return false;
    const start = Number(addr);
    const end = start + length;
    return start >= 0 && end <= this.size && (end <= LEGACY_HOLE.start || start >= LEGACY_HOLE.end);
  }

  read(addr: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const n = readSync(this.openFd(), out, done, length - done, Number(addr) + done);
      if (n === 0) throw new Error(`the shared RAM file ends before 0x${(Number(addr) + done).toString(16)}`);
      done += n;
    }
    return out;
  }

  write(addr: bigint, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) done += writeSync(this.openFd(), bytes, done, bytes.length - done, Number(addr) + done);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error('the shared RAM file is closed');
    return this.fd;
  }
}

const LEGACY_HOLE = { start: 0xa0000, end: 0x100000 } as const;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
