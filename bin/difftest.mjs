#!/usr/bin/env node
// Entry point: run the TypeScript CLI through tsx's loader, so `npm start` needs no build step.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { register } from 'tsx/esm/api';

/**
 * V8 flags the process must start with (V8 takes them neither from NODE_OPTIONS nor at run time):
 * garbage collection on the thread that allocates. A campaign keeps every core busy with its
 * workers and QEMUs, so V8's parallel and concurrent GC helper threads only add CPU: they used as
 * much as the two workers together (B2, 10-instruction cases; bench/fuzz-throughput-profile.md).
 */
const V8_FLAGS = ['--single-threaded-gc'];
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

if (V8_FLAGS.every((f) => process.execArgv.includes(f))) {
  // Started by the launcher below: its channel closing means it is gone (SIGKILL, say), and a CLI
  // in a process group of its own would otherwise run on unseen. Stop as on SIGTERM: the partial
  // report is written and every QEMU stopped. The channel must not keep the CLI alive.
  if (process.channel) {
    process.channel.unref();
    process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
  register();
  await import('../cli/main.ts');
} else {
  // The CLI again with the flags, in a process group of its own, so that a terminal's Ctrl-C
  // reaches it once (forwarded from here), not twice: a second signal means "quit at once".
  const child = spawn(process.execPath, [...process.execArgv, ...V8_FLAGS, ...process.argv.slice(1)], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], detached: true });
  for (const s of SIGNALS) process.on(s, () => child.kill(s));
  child.on('error', (err) => {
    process.stderr.write(`difftest: cannot start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
}
