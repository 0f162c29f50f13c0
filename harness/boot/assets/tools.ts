import { existsSync } from 'node:fs';
import { SetupError } from '../../../oracle/qemu/install.js';

/** Path of `command` on PATH, or a one-line SetupError naming the Debian package to install. */
export async function requireTool(command: string, debianPackage: string, why = ''): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(`${dir}/${command}`)) return `${dir}/${command}`;
  }
  throw new SetupError(`${command} not found${why ? ` (${why})` : ''}; install it with: apt-get install ${debianPackage}`);
}
