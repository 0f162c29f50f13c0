import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { hex64 } from '../../../contracts/hex.js';

/**
 * `.cache/boot/manifest.json`: what was prepared, from what, with a SHA-256 per file. A later run
 * reuses an entry only when its files still hash to what is recorded; otherwise that step runs
 * again. Paths are relative to the cache directory.
 */

export const CachedFileSchema = z.object({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
export type CachedFile = z.output<typeof CachedFileSchema>;

const LoadSchema = z.object({ vaddr: hex64, paddr: hex64, memsz: hex64 });

export const KernelEntrySchema = z.object({
  /** 'debian': fetched by difftest; 'user': a --kernel file (keyed by its hash). */
  source: z.enum(['debian', 'user']),
  /** Debian package and version (`linux-image-6.1.0-57-amd64`, `6.1.192-3`), for 'debian'. */
  package: z.string().optional(),
  packageVersion: z.string().optional(),
  debSha256: z.string().optional(),
  /** The --kernel file as given (for 'user'). */
  original: CachedFileSchema.optional(),
  /** The ELF QEMU boots (in the cache, or the user's own file when it already was one). */
  elf: CachedFileSchema,
  /** How the ELF was obtained: the file itself, or decompressed from a boot image. */
  extractedFrom: z.enum(['elf', 'xz', 'gzip']),
  banner: z.string().optional(),
  pvhEntry: hex64,
  loads: z.array(LoadSchema),
  kallsyms: z.object({ file: CachedFileSchema, count: z.number().int(), seconds: z.number() }).optional(),
});
export type KernelEntry = z.output<typeof KernelEntrySchema>;

export const ManifestSchema = z.object({
  schema: z.literal(1),
  kernels: z.record(z.string(), KernelEntrySchema),
  busybox: z.object({ package: z.string(), version: z.string(), debSha256: z.string(), file: CachedFileSchema }).optional(),
  initramfs: z.object({ bootOk: CachedFileSchema, kallsyms: CachedFileSchema }).optional(),
});
export type Manifest = z.output<typeof ManifestSchema>;

export const MANIFEST_FILE = 'manifest.json';

export function emptyManifest(): Manifest {
  return { schema: 1, kernels: {} };
}

/** The manifest, or an empty one when it is missing or unreadable (everything is then prepared again). */
export async function readManifest(cacheDir: string): Promise<Manifest> {
  try {
    const text = await readFile(path.join(cacheDir, MANIFEST_FILE), 'utf8');
    return ManifestSchema.decode(JSON.parse(text) as z.input<typeof ManifestSchema>);
  } catch {
    return emptyManifest();
  }
}

/** Written to a temporary file and renamed, so an interrupted run never leaves half a manifest. */
export async function writeManifest(cacheDir: string, manifest: Manifest): Promise<void> {
  const file = path.join(cacheDir, MANIFEST_FILE);
  await writeFile(`${file}.tmp`, `${JSON.stringify(ManifestSchema.encode(manifest), null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Whether a recorded file still exists with its recorded hash (absolute paths are taken as they are). */
export async function verifyCached(cacheDir: string, f: CachedFile | undefined): Promise<boolean> {
  if (!f) return false;
  try {
    return (await sha256File(path.resolve(cacheDir, f.path))) === f.sha256;
  } catch {
    return false;
  }
}
