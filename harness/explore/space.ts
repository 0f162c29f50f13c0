/**
 * The encoding space the explorer walks, as a table: opcode maps × prefix classes. Each entry is
 * a tunnel seed (its fixed bytes: prefixes, escape bytes, VEX/EVEX payload), and the walk goes
 * through every opcode value after them and, tunnelling, the bytes that follow.
 *
 * The legacy prefix classes each stand for a family (one segment override stands for all six,
 * a few REX values for all sixteen); combinations are those whose meaning the SDM defines by
 * order or precedence (REX before a legacy prefix is ignored, SDM Vol. 2 §2.2.1; 66 with F2/F3
 * selects by the last mandatory prefix in practice) and a run of prefixes that leaves two bytes
 * before the 15-byte limit (§2.3.11). VEX (C5 two-byte, C4 three-byte) and EVEX (62) classes
 * cover every map × L × pp (× W for C4; EVEX W0, L'L 00), with inverted R/X/B/vvvv all ones.
 */
import type { TunnelSeed } from './tunnel.js';

export type OpcodeMap = '1-byte' | '0F' | '0F38' | '0F3A' | '3DNow!' | 'VEX.0F' | 'VEX.0F38' | 'VEX.0F3A' | 'EVEX.0F' | 'EVEX.0F38' | 'EVEX.0F3A';

export const OPCODE_MAPS: readonly OpcodeMap[] = ['1-byte', '0F', '0F38', '0F3A', '3DNow!', 'VEX.0F', 'VEX.0F38', 'VEX.0F3A', 'EVEX.0F', 'EVEX.0F38', 'EVEX.0F3A'];

export interface SpaceSeed extends TunnelSeed {
  /** Stable name: `map/class`, e.g. `0F38/66` or `VEX.0F38/C4.L0.W0.F3`. */
  readonly id: string;
  readonly map: OpcodeMap;
  /** The prefix class, e.g. `none`, `66`, `REX.W`, `C4.L0.W1.66`. */
  readonly prefixClass: string;
  /** How many bytes of `fixed` are prefixes (the rest is the escape or VEX/EVEX part). */
  readonly prefixBytes: number;
}

interface LegacyClass {
  readonly name: string;
  readonly bytes: readonly number[];
  /** Only where mandatory prefixes select instructions (0F, 0F38, 0F3A). */
  readonly escapedOnly?: boolean;
  /** Only in the 1-byte map (the prefix run leaves no room for escape bytes). */
  readonly oneByteOnly?: boolean;
}

const LEGACY_CLASSES: readonly LegacyClass[] = [
  { name: 'none', bytes: [] },
  { name: '66', bytes: [0x66] },
  { name: 'F2', bytes: [0xf2] },
  { name: 'F3', bytes: [0xf3] },
  { name: '67', bytes: [0x67] },
  { name: 'LOCK', bytes: [0xf0] },
  { name: 'FS', bytes: [0x64] },
  { name: 'REX', bytes: [0x40] },
  { name: 'REX.W', bytes: [0x48] },
  { name: 'REX.RXB', bytes: [0x47] },
  { name: 'REX.W then 66', bytes: [0x48, 0x66] },
  { name: '66 REX.W', bytes: [0x66, 0x48], escapedOnly: true },
  { name: '66 F2', bytes: [0x66, 0xf2], escapedOnly: true },
  { name: '66 F3', bytes: [0x66, 0xf3], escapedOnly: true },
  { name: 'F3 F2', bytes: [0xf3, 0xf2], escapedOnly: true },
  { name: '13 × CS', bytes: Array<number>(13).fill(0x2e), oneByteOnly: true },
];

const ESCAPES: ReadonlyArray<[OpcodeMap, readonly number[]]> = [
  ['1-byte', []],
  ['0F', [0x0f]],
  ['0F38', [0x0f, 0x38]],
  ['0F3A', [0x0f, 0x3a]],
];

/** Opcode bytes the 1-byte map leaves to other seeds: prefixes, REX, the 0F escape, VEX and EVEX. */
const ONE_BYTE_EXCLUDED = new Set([0x0f, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0xc4, 0xc5, 0x62, ...Array.from({ length: 16 }, (_, i) => 0x40 + i)]);
/** 0F 38 and 0F 3A have seeds of their own. */
const TWO_BYTE_EXCLUDED = new Set([0x38, 0x3a]);

const PP: ReadonlyArray<[string, number]> = [['NP', 0], ['66', 1], ['F3', 2], ['F2', 3]];
const VEX_MAPS: ReadonlyArray<[OpcodeMap, number]> = [['VEX.0F', 1], ['VEX.0F38', 2], ['VEX.0F3A', 3]];
const EVEX_MAPS: ReadonlyArray<[OpcodeMap, number]> = [['EVEX.0F', 1], ['EVEX.0F38', 2], ['EVEX.0F3A', 3]];

function seed(map: OpcodeMap, prefixClass: string, prefixes: readonly number[], rest: readonly number[], excluded?: ReadonlySet<number>): SpaceSeed {
  return { id: `${map}/${prefixClass}`, map, prefixClass, fixed: Uint8Array.from([...prefixes, ...rest]), prefixBytes: prefixes.length, excluded };
}

function legacySeeds(): SpaceSeed[] {
  const out: SpaceSeed[] = [];
  for (const [map, escape] of ESCAPES) {
    for (const c of LEGACY_CLASSES) {
      if ((c.escapedOnly && map === '1-byte') || (c.oneByteOnly && map !== '1-byte')) continue;
      const excluded = map === '1-byte' ? ONE_BYTE_EXCLUDED : map === '0F' ? TWO_BYTE_EXCLUDED : undefined;
      out.push(seed(map, c.name, c.bytes, escape, excluded));
    }
  }
  // 3DNow!: 0F 0F /r ib, the opcode in the trailing byte; a register ModRM, so the walked byte is the suffix
  for (const c of LEGACY_CLASSES.filter((l) => ['none', '66', 'REX.W'].includes(l.name))) out.push(seed('3DNow!', c.name, c.bytes, [0x0f, 0x0f, 0xc0]));
  return out;
}

function vexSeeds(): SpaceSeed[] {
  const out: SpaceSeed[] = [];
  for (const l of [0, 1]) {
    for (const [ppName, pp] of PP) out.push(seed('VEX.0F', `C5.L${l}.${ppName}`, [], [0xc5, 0xf8 | (l << 2) | pp]));
  }
  for (const [map, mmmmm] of VEX_MAPS) {
    for (const w of [0, 1]) {
      for (const l of [0, 1]) {
        for (const [ppName, pp] of PP) out.push(seed(map, `C4.L${l}.W${w}.${ppName}`, [], [0xc4, 0xe0 | mmmmm, (w << 7) | 0x78 | (l << 2) | pp]));
      }
    }
  }
  return out;
}

function evexSeeds(): SpaceSeed[] {
  const out: SpaceSeed[] = [];
  for (const [map, mm] of EVEX_MAPS) {
    for (const [ppName, pp] of PP) out.push(seed(map, `62.W0.${ppName}`, [], [0x62, 0xf0 | mm, 0x7c | pp, 0x08]));
  }
  return out;
}

/** Every seed of the space, in walk order. */
export function allSeeds(): SpaceSeed[] {
  return [...legacySeeds(), ...vexSeeds(), ...evexSeeds()];
}

/**
 * The seeds selected by `--map`/`--class` style filters: maps by name (e.g. `0F38`, `VEX.0F38`),
 * classes by exact name or prefix (e.g. `C4.L0` matches every C4 L0 class). Empty filters select all.
 */
export function selectSeeds(maps: readonly string[] = [], classes: readonly string[] = []): SpaceSeed[] {
  return allSeeds().filter(
    (s) => (maps.length === 0 || maps.includes(s.map)) && (classes.length === 0 || classes.some((c) => s.prefixClass === c || s.prefixClass.startsWith(`${c}.`))),
  );
}

/** Map names, for error messages. */
export function mapNames(): string {
  return OPCODE_MAPS.join(', ');
}
