import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../../../util/errors.js';
import { SymbolTable, parseKallsyms, NO_SYMBOLS } from '../symbols.js';
import { resolveMetapackage, downloadPackage, extractFromPackage } from './debian-packages.js';
import { readKernelElf, type LoadSegment } from './elf.js';
import { BOOT_OK_INIT, buildInitramfs, KALLSYMS_INIT } from './initramfs.js';
import { collectKallsyms } from './kallsyms-boot.js';
import { readManifest, sha256Bytes, sha256File, verifyCached, writeManifest, type CachedFile, type KernelEntry, type Manifest } from './manifest.js';
import { KernelImageError, kernelElfOf } from './vmlinuz.js';

/**
 * Everything a boot lockstep needs, prepared once into `.cache/boot/` and reused while the
 * checksums hold: Debian's current kernel (or the user's), a busybox initramfs whose /init prints
 * BOOT-OK and powers off, and the kernel's symbol table taken from a first QEMU-only boot.
 */

export const KERNEL_META_PACKAGE = 'linux-image-amd64';
export const BUSYBOX_PACKAGE = 'busybox-static';

export interface KernelAssets {
  /** The ELF QEMU boots with -kernel. */
  readonly elfPath: string;
  readonly pvhEntry: bigint;
  readonly loads: readonly LoadSegment[];
  /** One line naming the kernel exactly: package and version when Debian's, and the banner. */
  readonly version: string;
  readonly banner: string | undefined;
  readonly source: 'debian' | 'user';
}

export interface BootAssets {
  readonly cacheDir: string;
  readonly kernel: KernelAssets;
  /** The initramfs of the lockstep boot (BOOT-OK), or the user's --initrd. */
  readonly initrd: string;
  readonly symbols: SymbolTable;
  /** Why symbols are missing, when they are. */
  readonly symbolsNote: string | undefined;
  /** Seconds spent preparing (0-ish when everything came from the cache). */
  readonly seconds: number;
  /** One entry per step: what it did and how long it took. */
  readonly steps: ReadonlyArray<{ readonly step: string; readonly seconds: number; readonly cached: boolean }>;
}

export interface PrepareOptions {
  readonly cacheDir: string;
  /** A user's kernel (vmlinux ELF, or a bzImage with an XZ/gzip ELF inside). */
  readonly kernel?: string;
  /** A user's initramfs for the lockstep boot. */
  readonly initrd?: string;
  /** One line per step, as it starts and ends. */
  readonly progress?: (line: string) => void;
  readonly memoryMiB?: number;
}

function kernelVersionLine(e: KernelEntry): string {
  const what = e.source === 'debian' ? `Debian ${e.package ?? '?'} ${e.packageVersion ?? '?'}` : `user kernel ${e.original?.path ?? e.elf.path}`;
  return e.banner ? `${what} (${e.banner})` : what;
}

/** Refuse a kernel QEMU cannot boot directly, in one line naming what to pass instead. */
function checkPvh(info: ReturnType<typeof readKernelElf>, shown: string): bigint {
  if (info.pvhEntry === undefined) {
    throw new UsageError(
      `${shown} has no PVH entry note (Xen ELF note type 0x12), so QEMU cannot boot it directly and the lockstep cannot start from it; pass a kernel built with CONFIG_PVH=y (Debian's linux-image-amd64 is), or omit --kernel to use Debian's`,
    );
  }
  return info.pvhEntry;
}

class Steps {
  readonly done: Array<{ step: string; seconds: number; cached: boolean }> = [];
  constructor(private readonly progress: (line: string) => void) {}

  async run<T>(step: string, fn: () => Promise<T>, describe: (r: T) => string): Promise<T> {
    this.progress(`boot assets: ${step}…`);
    const t0 = performance.now();
    const r = await fn();
    const seconds = (performance.now() - t0) / 1000;
    this.done.push({ step, seconds, cached: false });
    this.progress(`boot assets: ${describe(r)} (${seconds.toFixed(1)} s)`);
    return r;
  }

  reused(step: string, what: string): void {
    this.done.push({ step, seconds: 0, cached: true });
    this.progress(`boot assets: ${what} (cached)`);
  }
}

async function cachedFile(cacheDir: string, abs: string): Promise<CachedFile> {
  return { path: path.relative(cacheDir, abs) || abs, sha256: await sha256File(abs) };
}

/** Download Debian's current kernel and extract its ELF into the cache. */
async function fetchDebianKernel(cacheDir: string): Promise<KernelEntry> {
  const downloads = path.join(cacheDir, 'downloads');
  const dir = path.join(cacheDir, 'debian');
  await mkdir(downloads, { recursive: true });
  await mkdir(dir, { recursive: true });
  const pkgName = await resolveMetapackage(KERNEL_META_PACKAGE, /^linux-image-\d.*-amd64$/);
  const pkg = await downloadPackage(pkgName, downloads);
  const debSha256 = await sha256File(pkg.path);
  const extractDir = path.join(downloads, 'extract');
  await rm(extractDir, { recursive: true, force: true });
  await mkdir(extractDir, { recursive: true });
  const files = await extractFromPackage(pkg.path, ['./boot/vmlinuz-*'], extractDir);
  const vmlinuz = files.find((f) => f.startsWith('boot/vmlinuz-'));
  if (!vmlinuz) throw new KernelImageError(`${path.basename(pkg.path)} holds no boot/vmlinuz-*`);
  const image = new Uint8Array(await readFile(path.join(extractDir, vmlinuz)));
  const { elf, from } = await kernelElfOf(image).catch((err: unknown) => {
    throw new KernelImageError(`${vmlinuz} from ${pkg.name}: ${(err as Error).message}`);
  });
  const info = readKernelElf(elf);
  const pvhEntry = checkPvh(info, `${vmlinuz} from ${pkg.name}`);
  const release = vmlinuz.replace(/^boot\/vmlinuz-/, '');
  const elfPath = path.join(dir, `vmlinux-${release}`);
  await writeFile(elfPath, elf);
  await rm(extractDir, { recursive: true, force: true });
  await rm(pkg.path, { force: true }); // 70 MB; its hash stays in the manifest
  return {
    source: 'debian',
    package: pkg.name,
    packageVersion: pkg.version,
    debSha256,
    elf: { path: path.relative(cacheDir, elfPath), sha256: sha256Bytes(elf) },
    extractedFrom: from,
    banner: info.banner,
    pvhEntry,
    loads: [...info.loads],
  };
}

/** A user's kernel: its ELF (extracted into the cache when it is a boot image), checked for PVH. */
async function userKernel(cacheDir: string, file: string, key: string, originalSha: string): Promise<KernelEntry> {
  const image = new Uint8Array(await readFile(file));
  const shown = `--kernel ${file}`;
  let extracted: Awaited<ReturnType<typeof kernelElfOf>>;
  try {
    extracted = await kernelElfOf(image);
  } catch (err) {
    if (!(err instanceof KernelImageError)) throw err;
    throw new UsageError(`${shown} is ${err.message}; pass a vmlinux ELF or a bzImage with a PVH-capable kernel (CONFIG_PVH=y)`);
  }
  let info: ReturnType<typeof readKernelElf>;
  try {
    info = readKernelElf(extracted.elf);
  } catch (err) {
    throw new UsageError(`${shown}: ${(err as Error).message}; pass an x86-64 Linux kernel (vmlinux ELF or bzImage)`);
  }
  const pvhEntry = checkPvh(info, shown);
  let elf: CachedFile;
  if (extracted.from === 'elf') elf = { path: path.resolve(file), sha256: originalSha };
  else {
    const dir = path.join(cacheDir, key);
    await mkdir(dir, { recursive: true });
    const elfPath = path.join(dir, 'vmlinux');
    await writeFile(elfPath, extracted.elf);
    elf = { path: path.relative(cacheDir, elfPath), sha256: sha256Bytes(extracted.elf) };
  }
  return {
    source: 'user',
    original: { path: path.resolve(file), sha256: originalSha },
    elf,
    extractedFrom: extracted.from,
    banner: info.banner,
    pvhEntry,
    loads: [...info.loads],
  };
}

async function kernelEntryOk(cacheDir: string, e: KernelEntry | undefined): Promise<boolean> {
  return e !== undefined && (await verifyCached(cacheDir, e.elf));
}

/** Prepare (or reuse) every asset; progress lines go to `options.progress`. */
export async function prepareBootAssets(options: PrepareOptions): Promise<BootAssets> {
  const cacheDir = path.resolve(options.cacheDir);
  const t0 = performance.now();
  const steps = new Steps(options.progress ?? (() => undefined));
  await mkdir(cacheDir, { recursive: true });
  const manifest: Manifest = await readManifest(cacheDir);
  const save = () => writeManifest(cacheDir, manifest);

  // 1. The kernel.
  let key = 'debian';
  if (options.kernel) {
    const abs = path.resolve(options.kernel);
    const sha = await sha256File(abs).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read --kernel ${options.kernel} (${err.code ?? err.message}); pass an existing kernel file`);
    });
    key = `user-${sha.slice(0, 12)}`;
    if (await kernelEntryOk(cacheDir, manifest.kernels[key])) steps.reused('kernel', `kernel ${options.kernel} (PVH entry checked before)`);
    else {
      manifest.kernels[key] = await steps.run('kernel', () => userKernel(cacheDir, abs, key, sha), (e) => `kernel ELF ${e.elf.path} (from ${e.extractedFrom}), PVH entry 0x${e.pvhEntry.toString(16)}`);
      await save();
    }
  } else if (await kernelEntryOk(cacheDir, manifest.kernels[key])) {
    const e = manifest.kernels[key]!;
    steps.reused('kernel', `kernel ${e.package} ${e.packageVersion}`);
  } else {
    manifest.kernels[key] = await steps.run(
      'kernel',
      () => fetchDebianKernel(cacheDir),
      (e) => `kernel ${e.package} ${e.packageVersion} downloaded, ELF extracted (${e.extractedFrom}), PVH entry 0x${e.pvhEntry.toString(16)}`,
    );
    await save();
  }
  const kernelEntry = manifest.kernels[key]!;
  const kernelElf = path.resolve(cacheDir, kernelEntry.elf.path);

  // 2. busybox and the two initramfs images: needed for the symbol boot, and for the lockstep boot without --initrd.
  let symbolsNote: string | undefined;
  let initramfs = manifest.initramfs;
  const haveInitramfs = initramfs !== undefined && (await verifyCached(cacheDir, initramfs.bootOk)) && (await verifyCached(cacheDir, initramfs.kallsyms));
  if (haveInitramfs) steps.reused('initramfs', 'initramfs images');
  else {
    try {
      let bb = manifest.busybox;
      if (!bb || !(await verifyCached(cacheDir, bb.file))) {
        bb = await steps.run('busybox', async () => {
          const downloads = path.join(cacheDir, 'downloads');
          await mkdir(downloads, { recursive: true });
          const pkg = await downloadPackage(BUSYBOX_PACKAGE, downloads);
          const dir = path.join(cacheDir, 'busybox');
          await mkdir(dir, { recursive: true });
          await extractFromPackage(pkg.path, ['./bin/busybox'], dir);
          const entry = { package: pkg.name, version: pkg.version, debSha256: await sha256File(pkg.path), file: await cachedFile(cacheDir, path.join(dir, 'bin', 'busybox')) };
          await rm(pkg.path, { force: true });
          return entry;
        }, (b) => `${b.package} ${b.version} downloaded`);
        manifest.busybox = bb;
        await save();
      }
      const busybox = new Uint8Array(await readFile(path.resolve(cacheDir, bb.file.path)));
      initramfs = await steps.run('initramfs', async () => {
        const dir = path.join(cacheDir, 'initramfs');
        await mkdir(dir, { recursive: true });
        const write = async (name: string, init: Uint8Array) => {
          const abs = path.join(dir, name);
          await writeFile(abs, buildInitramfs(busybox, init));
          return cachedFile(cacheDir, abs);
        };
        return { bootOk: await write('boot-ok.cpio', BOOT_OK_INIT), kallsyms: await write('kallsyms.cpio', KALLSYMS_INIT) };
      }, () => 'initramfs images built (newc cpio: busybox + /init)');
      manifest.initramfs = initramfs;
      await save();
    } catch (err) {
      // Without busybox there is no initramfs of our own: fine with the user's --initrd, but then no symbols.
      if (!options.initrd) throw err;
      initramfs = undefined;
      symbolsNote = `no symbols: busybox-static could not be fetched for the symbol boot (${(err as Error).message})`;
    }
  }

  // 3. The symbol table, from the kernel itself.
  let symbols = NO_SYMBOLS;
  if (initramfs) {
    const ks = kernelEntry.kallsyms;
    if (ks && (await verifyCached(cacheDir, ks.file))) {
      symbols = new SymbolTable(parseKallsyms(await readFile(path.resolve(cacheDir, ks.file.path), 'latin1')), kernelEntry.loads);
      steps.reused('symbols', `${symbols.size} symbols`);
    } else {
      try {
        const t = performance.now();
        const dir = path.join(cacheDir, key);
        await mkdir(dir, { recursive: true });
        const text = await steps.run('symbols', () => collectKallsyms({
          kernel: kernelElf,
          initrd: path.resolve(cacheDir, initramfs!.kallsyms.path),
          workDir: dir,
          memoryMiB: options.memoryMiB,
        }), (tx) => `${parseKallsyms(tx).length} symbols read from the kernel's /proc/kallsyms (QEMU boot)`);
        const file = path.join(dir, 'kallsyms.txt');
        await writeFile(file, text, 'latin1');
        const parsed = parseKallsyms(text);
        kernelEntry.kallsyms = { file: await cachedFile(cacheDir, file), count: parsed.length, seconds: (performance.now() - t) / 1000 };
        await save();
        symbols = new SymbolTable(parsed, kernelEntry.loads);
      } catch (err) {
        symbolsNote = `no symbols: the symbol boot failed (${(err as Error).message.split('\n')[0]}); addresses are shown in hex`;
        options.progress?.(`boot assets: ${symbolsNote}`);
      }
    }
  }

  const initrd = options.initrd ? path.resolve(options.initrd) : path.resolve(cacheDir, initramfs!.bootOk.path);
  if (options.initrd) {
    await readFile(initrd).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read --initrd ${options.initrd} (${err.code ?? err.message}); pass an existing initramfs file`);
    });
  }
  return {
    cacheDir,
    kernel: {
      elfPath: kernelElf,
      pvhEntry: kernelEntry.pvhEntry,
      loads: kernelEntry.loads,
      version: kernelVersionLine(kernelEntry),
      banner: kernelEntry.banner,
      source: kernelEntry.source,
    },
    initrd,
    symbols,
    symbolsNote,
    seconds: (performance.now() - t0) / 1000,
    steps: steps.done,
  };
}
