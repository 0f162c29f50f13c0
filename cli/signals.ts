import { killCampaignQemus } from '../harness/campaign/campaign.js';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const EXIT_CODE: Record<(typeof SIGNALS)[number], number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * Ctrl-C, and SIGTERM/SIGHUP (what CI runners, `timeout` and closing terminals send), all stop a
 * run the same way: `handler` gets the first one (finish or abandon the cases in flight, write a
 * partial report); a second one quits at once, killing every QEMU the campaign started first (a
 * worker thread's QEMUs would otherwise outlive the process). Returns the unsubscribe.
 */
export function onTermination(handler: (signal: string) => void): () => void {
  let received = false;
  const listener = (signal: (typeof SIGNALS)[number]) => {
    if (received) {
      killCampaignQemus();
      process.exit(EXIT_CODE[signal]);
    }
    received = true;
    handler(signal);
  };
  for (const s of SIGNALS) process.on(s, listener);
  return () => {
    for (const s of SIGNALS) process.off(s, listener);
  };
}
