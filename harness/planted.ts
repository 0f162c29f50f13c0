import { EmulatorTarget } from '../emulator/emulator-target.js';
import { setMutants, type MutantName } from '../emulator/mutants.js';
import type { QemuTarget } from '../oracle/qemu/qemu-target.js';
import type { Case } from '../corpus/case-schema.js';
import { createCaseSource } from './campaign/case-source.js';
import { minimizeGeneratedDivergence, type MinimizedDivergence } from './campaign/minimize-divergence.js';
import type { Family } from './generate/row-catalog.js';
import { BatchScreen, runnerWithGuestScrub } from './batch/batch-screen.js';
import { divergenceSignature } from './signature.js';

/** Where each planted bug shows: the generator family that exercises it. */
export const MUTANT_FAMILY: Record<MutantName, Family> = {
  'rip-rel-from-start': 'alu',
  'rex-b-ignored': 'alu',
  'add64-mem-trunc32': 'alu',
  'af-never-set': 'alu',
  'shift-count-unmasked': 'shift',
  'push-imm32-no-sext': 'stack',
  'sbb16-no-carry': 'alu',
  'mov16-imm-store-swapped': 'mov',
};

export interface HuntResult {
  readonly mutant: MutantName;
  /** Index of the first generated case that diverged, or undefined when none did. */
  readonly foundAt?: number;
  readonly signature?: string;
  readonly original?: Case;
  readonly minimized?: MinimizedDivergence;
  /** The minimized case agrees with QEMU once the mutant is off: the bug found is the planted one. */
  readonly confirmed?: boolean;
  readonly huntSeconds: number;
}

/**
 * A bounded, fixed-seed hunt for one planted bug: generate cases from the mutant's family,
 * run each on QEMU and the mutated emulator, minimize the first divergence found.
 */
export async function huntMutant(
  reference: QemuTarget,
  mutant: MutantName,
  options: { seed: number; maxCases: number; accept?: (signature: string) => boolean },
): Promise<HuntResult> {
  const t0 = performance.now();
  setMutants([mutant]);
  try {
    const runner = runnerWithGuestScrub(new BatchScreen(reference, new EmulatorTarget()));
    const generation = { seed: options.seed, families: [MUTANT_FAMILY[mutant]], length: [1, 10] as const, raw: false };
    const source = createCaseSource(generation);
    for (let i = 0; i < options.maxCases; i++) {
      const g = await source(i);
      if (!g.case) continue;
      const r = await runner.run(g.case, { mode: 'block' });
      if (r.outcome !== 'divergence') continue;
      const signature = divergenceSignature(r.divergence!);
      if (options.accept && !options.accept(signature)) continue;
      // a divergence that is there without the mutant is some other bug: keep hunting
      setMutants([]);
      const without = await runner.run(g.case, { mode: 'block' });
      setMutants([mutant]);
      if (without.outcome === 'divergence') continue;
      const huntSeconds = (performance.now() - t0) / 1000;
      const minimized = await minimizeGeneratedDivergence(runner, { config: generation, index: i }, g.case, r.divergence!, signature);
      let confirmed: boolean | undefined;
      if (minimized) {
        setMutants([]);
        confirmed = (await runner.run(minimized.case, { mode: 'block' })).outcome === 'match';
      }
      return { mutant, foundAt: i, signature, original: g.case, minimized, confirmed, huntSeconds };
    }
    return { mutant, huntSeconds: (performance.now() - t0) / 1000 };
  } finally {
    setMutants([]);
  }
}
