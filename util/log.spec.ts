import { describe, expect, it } from 'vitest';
import { humanLogLine } from './log.js';

describe('log lines for quiet runs', () => {
  it("turns the campaign's 'worker failed' record into one line with its cause", () => {
    const record = JSON.stringify({ level: 50, time: 1, module: 'campaign', worker: 1, message: "no reply to 'qSupported' within 5000 ms\n(restart it)", msg: 'worker failed' });
    expect(humanLogLine(`${record}\n`)).toBe("difftest: worker failed: no reply to 'qSupported' within 5000 ms (restart it) (worker 1)\n");
  });

  it('takes an error object as the cause, and lists other fields as context', () => {
    const record = JSON.stringify({ level: 40, time: 1, module: 'qemu', pids: [12, 13], err: { type: 'Error', message: 'boom', stack: 'Error: boom\n at x' }, msg: 'killed QEMU processes' });
    expect(humanLogLine(record)).toBe('difftest: killed QEMU processes: boom (pids 12,13)\n');
  });

  it("cuts long context (a tool's whole output) and folds its lines", () => {
    const output = Array.from({ length: 50 }, (_, i) => `Err:${i} http://deb.debian.org bookworm InRelease`).join('\n');
    const line = humanLogLine(JSON.stringify({ level: 40, time: 1, module: 'install', output, msg: 'apt-get update failed; trying the install anyway' }));
    expect(line).toMatch(/^difftest: apt-get update failed; trying the install anyway \(output Err:0 http:\/\/deb\.debian\.org bookworm InRelease Err:1 .*… \(--verbose for all of it\)\)\n$/);
    expect(line.split('\n')).toHaveLength(2);
    expect(line.length).toBeLessThan(400);
  });

  it('passes a line that is not JSON through unchanged', () => {
    expect(humanLogLine('plain text')).toBe('plain text\n');
  });
});
