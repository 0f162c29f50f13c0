import { execa } from 'execa';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { SetupError } from '../../../oracle/qemu/install.js';
import { requireTool } from './tools.js';

/**
 * Debian packages fetched with `apt-get download` (no root, nothing installed) and unpacked with
 * `dpkg-deb`. Only the files asked for are extracted: the kernel package unpacks to ~400 MB of
 * modules, of which the lockstep needs the 8 MB vmlinuz.
 */

const NO_APT = 'fetching the kernel and busybox needs a Debian system; or pass your own --kernel PATH --initrd PATH';

function lastLines(text: string, n = 2): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join(' | ');
}

/**
 * The concrete package a metapackage stands for (`linux-image-amd64` →
 * `linux-image-6.1.0-57-amd64`), from apt's local cache: its first dependency that matches.
 */
export async function resolveMetapackage(meta: string, pattern: RegExp): Promise<string> {
  const aptCache = await requireTool('apt-cache', 'apt', NO_APT);
  const r = await execa(aptCache, ['depends', meta], { reject: false, all: true });
  if (r.exitCode !== 0) {
    throw new SetupError(`apt-cache does not know ${meta} (${lastLines(r.all ?? '')}); run apt-get update, or pass your own --kernel PATH --initrd PATH`);
  }
  for (const m of r.stdout.matchAll(/Depends:\s*(\S+)/g)) if (pattern.test(m[1]!)) return m[1]!;
  throw new SetupError(`${meta} depends on no package like ${pattern.source} (apt-cache depends ${meta}); pass your own --kernel PATH --initrd PATH`);
}

export interface DownloadedPackage {
  readonly name: string;
  readonly version: string;
  readonly path: string;
}

/** `apt-get download NAME` into `dir` (any older .deb of it there is removed first). */
export async function downloadPackage(name: string, dir: string): Promise<DownloadedPackage> {
  const aptGet = await requireTool('apt-get', 'apt', NO_APT);
  const dpkgDeb = await requireTool('dpkg-deb', 'dpkg', NO_APT);
  for (const f of await readdir(dir)) if (f.startsWith(`${name}_`) && f.endsWith('.deb')) await rm(path.join(dir, f));
  const r = await execa(aptGet, ['download', name], { cwd: dir, reject: false, all: true, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const file = (await readdir(dir)).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
  if (r.exitCode !== 0 || !file) {
    const why = lastLines(r.all ?? '') || `exit ${r.exitCode}`;
    const hint = /resolve|connect|Failed to fetch|Temporary failure|unreachable/i.test(why)
      ? 'check the network and apt sources'
      : /Unable to locate|has no installation candidate/i.test(why)
        ? 'run apt-get update'
        : 'check apt';
    throw new SetupError(`apt-get download ${name} failed (${why}); ${hint}, or pass your own --kernel PATH --initrd PATH`);
  }
  const v = await execa(dpkgDeb, ['-f', path.join(dir, file), 'Version'], { reject: false });
  if (v.exitCode !== 0) throw new SetupError(`${file} is not a readable Debian package (${lastLines(v.stderr)}); delete it and run again`);
  return { name, version: v.stdout.trim(), path: path.join(dir, file) };
}

/**
 * Extract the members matching `patterns` (tar wildcards such as `./boot/vmlinuz-*`) of a
 * package's file system into `dir`; returns the extracted paths relative to `dir`.
 */
export async function extractFromPackage(deb: string, patterns: readonly string[], dir: string): Promise<string[]> {
  const dpkgDeb = await requireTool('dpkg-deb', 'dpkg', NO_APT);
  const tar = await requireTool('tar', 'tar');
  const r = await execa(dpkgDeb, ['--fsys-tarfile', deb], { reject: false, encoding: 'buffer', maxBuffer: 2 << 30, buffer: false })
    .pipe(tar, ['-x', '-v', '-C', dir, '--wildcards', ...patterns], { reject: false, all: true });
  if (r.exitCode !== 0) throw new SetupError(`cannot extract ${patterns.join(' ')} from ${path.basename(deb)} (${lastLines(r.all ?? '')}); delete ${deb} and run again`);
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l && !l.endsWith('/')).map((l) => l.replace(/^\.\//, ''));
}
