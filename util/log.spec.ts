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

  it('passes a line that is not JSON through unchanged', () => {
    expect(humanLogLine('plain text')).toBe('plain text\n');
  });
});
