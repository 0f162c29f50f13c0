import { SELECTORS32 as S } from '../../contracts/test-machine-32.js';
import { LARGE, PAGES, TABLES } from './legacy-page-tables.js';
import { LTR, PROTECTED_SETUP, type ProtectedSequence, TO_RING3 } from './sequences-protected.js';

/**
 * Paging outside IA-32e mode on the 32-bit test machine: 32-bit paging (4 KiB and 4 MiB pages)
 * and PAE paging (4 KiB and 2 MiB pages) through the tables of legacy-page-tables.ts, with reads,
 * writes and fetches that succeed and ones that take #PF (not present, protection at CPL 0 with
 * CR0.WP and at CPL 3, XD, reserved bits), INVLPG and CR3 reloads after an entry changes, and the
 * way on to long mode. The lockstep compares CR2, the error code (on the stack) and the tables'
 * accessed and dirty bits with QEMU's.
 */

const hex = (n: number) => `0x${n.toString(16)}`;
const CR0_PG = 0x80000000;
const CR0_WP = 0x10000;

interface Enable {
  readonly wp?: boolean;
  readonly pse?: boolean;
  readonly nxe?: boolean;
  readonly cr3?: number;
}

const setCr4 = (bits: number) => `mov eax, cr4\nor eax, ${hex(bits)}\nmov cr4, eax`;
const setNxe = 'mov ecx, 0xc0000080\nrdmsr\nor eax, 0x800\nwrmsr';
const setPg = (wp: boolean | undefined) => `mov eax, cr0\nor eax, ${hex((CR0_PG | (wp ? CR0_WP : 0)) >>> 0)}\nmov cr0, eax`;

/** 32-bit paging on: CR3 = the page directory, CR4.PSE if asked, then CR0.PG (and WP). */
function paging32(o: Enable = {}): string {
  return [`mov eax, ${hex(o.cr3 ?? TABLES.pd32)}\nmov cr3, eax`, o.pse ? setCr4(0x10) : '', o.nxe ? setNxe : '', setPg(o.wp)].filter(Boolean).join('\n');
}

/** PAE paging on: CR4.PAE, CR3 = the PDPT, EFER.NXE if asked, then CR0.PG (and WP). */
function pagingPae(o: Enable = {}): string {
  return [setCr4(0x20), `mov eax, ${hex(o.cr3 ?? TABLES.pdpt)}\nmov cr3, eax`, o.nxe ? setNxe : '', setPg(o.wp)].filter(Boolean).join('\n');
}

/**
 * QEMU 7.2's mmu_translate reports a reserved-bit fault as RSVD alone (`error_code =
 * PG_ERROR_RSVD_MASK`); the SDM sets P with it: "because reserved bits are not checked in a
 * paging-structure entry whose P flag is 0, bit 3 of the error code can be set only if bit 0 is
 * also set" (Vol. 3 §4.7). The emulator pushes both, in every paging mode.
 */
const RSVD_WITHOUT_P = 'QEMU 7.2 pushes a reserved-bit #PF error code without P (0x8 for 0x9); the SDM (Vol. 3 §4.7) sets P whenever RSVD is set';

/** Rewrite a 4-byte entry (or the low dword of an 8-byte one) through the identity mapping. */
const pokeEntry = (addr: number, value: number) => `mov dword [${hex(addr)}], ${hex(value)}`;

export function legacyPagingSequences(): ProtectedSequence[] {
  const out: ProtectedSequence[] = [];
  const add = (name: string, body: string, extra: Partial<ProtectedSequence> = {}) => out.push({ name, asm: `${PROTECTED_SETUP}\n${body}`, legacyTables: true, ...extra });
  const { plain, readOnly, supervisor, notPresent, noExec, reserved } = PAGES;

  // ---- 32-bit paging ------------------------------------------------------------------------------
  const rw = `mov eax, [${hex(plain)}]\nmov [${hex(plain + 8)}], ebx\nmov ecx, [${hex(readOnly + 4)}]\nmov [${hex(supervisor + 12)}], ecx\npush eax\npop edx`;
  add('32-bit paging: 4 KiB pages read and written at CPL 0, A in the PDE, A and D in the PTEs', `${paging32({ wp: true })}\n${rw}`);
  add('32-bit paging without CR0.WP, CR4.PSE: a supervisor write to a read-only page succeeds', `${paging32()}\nmov [${hex(readOnly + 16)}], ebx\nmov eax, [${hex(plain)}]`);
  add('32-bit paging, CR0.WP: a supervisor write to a read-only page → #PF(3)', `${paging32({ wp: true })}\nmov eax, [${hex(readOnly)}]\nmov [${hex(readOnly + 0x20)}], ebx`);
  add('32-bit paging: not-present PTE → #PF(0), CR2', `${paging32({ wp: true })}\nmov eax, [${hex(notPresent + 0x10)}]`);
  add('32-bit paging: write through a not-present PDE → #PF(2)', `${paging32({ wp: true })}\nmov [${hex(LARGE.notPresent + 0x123)}], eax`);
  add('32-bit paging, CR4.PSE: a 4 MiB page read and written, A and D in the PDE', `${paging32({ wp: true, pse: true })}\nmov eax, [${hex(LARGE.page + 0x10)}]\nmov [${hex(LARGE.page + 0x3ffffc)}], ebx\nmov ecx, [${hex(LARGE.page + 0x3ffffc)}]`);
  add('32-bit paging, PS without CR4.PSE: the PDE names a page table (nothing present) → #PF(0)', `${paging32({ wp: true })}\nmov eax, [${hex(LARGE.page + 0x10)}]`);
  add('32-bit paging, CR4.PSE: a 4 MiB PDE with bit 21 set → #PF(9)', `${paging32({ wp: true, pse: true })}\nmov eax, [${hex(LARGE.reserved32 + 4)}]`, { qemuDeviation: RSVD_WITHOUT_P });
  add('32-bit paging: fetch from a not-present page → #PF(0) (I/D needs PAE with NXE, or SMEP)', `${paging32({ wp: true })}\njmp ${hex(notPresent)}`);
  add('32-bit paging with EFER.NXE: still no I/D in a fetch fault, no XD', `${paging32({ wp: true, nxe: true })}\njmp ${hex(notPresent + 4)}`);
  add('32-bit paging: INVLPG after rewriting a PTE', `${paging32({ wp: true })}\nmov eax, [${hex(plain)}]\n${pokeEntry(TABLES.pt32 + (plain >>> 12) * 4, 0x22007)}\ninvlpg [${hex(plain)}]\nmov ecx, [${hex(plain)}]\nmov [${hex(plain + 4)}], ecx`);
  add('32-bit paging: a CR3 reload after rewriting a PDE', `${paging32({ wp: true, pse: true })}\nmov eax, [${hex(LARGE.page)}]\n${pokeEntry(TABLES.pd32 + (LARGE.page >>> 22) * 4, TABLES.pt32 | 7)}\nmov eax, cr3\nmov cr3, eax\nmov ecx, [${hex(LARGE.page + plain)}]`);
  add('32-bit paging: paging off again, the same addresses are physical', `${paging32({ wp: true })}\nmov eax, [${hex(plain)}]\nmov eax, cr0\nand eax, 0x7fffffff\nmov cr0, eax\nmov ecx, [${hex(plain)}]\nmov edx, [0x21000]`);
  add('32-bit paging, ring 3: user pages read and written, the stack and code pages user too', `${LTR}\n${paging32({ wp: true })}\n${TO_RING3}\nmov eax, [${hex(plain)}]\nmov [${hex(plain + 0x40)}], eax\nmov ecx, [${hex(readOnly)}]\npush ecx`);
  add('32-bit paging, ring 3: write to a read-only user page → #PF(7)', `${LTR}\n${paging32()}\n${TO_RING3}\nmov eax, [${hex(readOnly)}]\nmov [${hex(readOnly + 8)}], eax`);
  add('32-bit paging, ring 3: read of a supervisor page → #PF(5)', `${LTR}\n${paging32({ wp: true })}\n${TO_RING3}\nmov eax, [${hex(supervisor + 8)}]`);
  add('32-bit paging, ring 3: a user PTE under a supervisor PDE → #PF(5)', `${LTR}\n${paging32({ wp: true })}\n${TO_RING3}\nmov eax, [${hex(LARGE.supervisorPde32 + plain)}]`);
  add('32-bit paging, CR0.WP: a writable PTE under a read-only PDE → #PF(3)', `${paging32({ wp: true })}\nmov eax, [${hex(LARGE.supervisorPde32 + plain)}]\nmov [${hex(LARGE.supervisorPde32 + plain)}], eax`);

  // ---- PAE paging -----------------------------------------------------------------------------------
  add('PAE paging: 4 KiB pages read and written at CPL 0, A and D bits, the PDPTE', `${pagingPae({ wp: true })}\n${rw}`);
  add('PAE paging: a 2 MiB page read and written, A and D in the PDE', `${pagingPae({ wp: true })}\nmov eax, [${hex(LARGE.page + 0x10)}]\nmov [${hex(LARGE.page + 0x1ffffc)}], ebx\nmov ecx, [${hex(LARGE.page + 0x1ffffc)}]`);
  add('PAE paging: a 2 MiB PDE with bit 13 set → #PF(9)', `${pagingPae({ wp: true })}\nmov eax, [${hex(LARGE.reservedPae + 4)}]`, { qemuDeviation: RSVD_WITHOUT_P });
  add('PAE paging: a PTE with bit 51 (above MAXPHYADDR) → #PF(0xb) on a write', `${pagingPae({ wp: true })}\nmov [${hex(reserved + 4)}], eax`, { qemuDeviation: RSVD_WITHOUT_P });
  add('PAE paging: XD without EFER.NXE is a reserved bit → #PF(9)', `${pagingPae({ wp: true })}\nmov eax, [${hex(noExec)}]`, { qemuDeviation: RSVD_WITHOUT_P });
  add('PAE paging, EFER.NXE: an XD page reads, a fetch from it → #PF(0x11)', `${pagingPae({ wp: true, nxe: true })}\nmov eax, [${hex(noExec)}]\njmp ${hex(noExec + 0x10)}`);
  add('PAE paging, EFER.NXE: fetch under an XD PDE → #PF(0x11)', `${pagingPae({ wp: true, nxe: true })}\nmov eax, [${hex(LARGE.noExecPdePae + plain)}]\njmp ${hex(LARGE.noExecPdePae + 0x10000)}`);
  add('PAE paging, EFER.NXE: fetch from a not-present page → #PF(0x10)', `${pagingPae({ wp: true, nxe: true })}\njmp ${hex(notPresent)}`);
  add('PAE paging, EFER.NXE: a PDPTE with bit 63 set → #PF(9)', `${pagingPae({ wp: true, nxe: true })}\nmov eax, [${hex(LARGE.reservedPdpte + 0x100)}]`, { qemuDeviation: RSVD_WITHOUT_P });
  add('PAE paging: not-present PDPTE → #PF(2) on a write', `${pagingPae({ wp: true })}\nmov [${hex(LARGE.notPresent)}], eax`);
  add('PAE paging: not-present PTE → #PF(0)', `${pagingPae()}\nmov eax, [${hex(notPresent + 0xffc)}]`);
  add('PAE paging: CR3 needs only 32-byte alignment (a second PDPT at +0x20)', `${pagingPae({ wp: true, cr3: TABLES.pdpt2 })}\nmov eax, [${hex(plain)}]\nmov [${hex(plain + 4)}], eax`);
  add('PAE paging: INVLPG after rewriting a PTE, then a CR3 reload after rewriting a PDE', `${pagingPae({ wp: true })}\nmov eax, [${hex(plain)}]\n${pokeEntry(TABLES.ptPae + (plain >>> 12) * 8, 0x23007)}\ninvlpg [${hex(plain)}]\nmov ecx, [${hex(plain)}]\n${pokeEntry(TABLES.pdPae + (LARGE.page >>> 21) * 8, TABLES.ptPae | 7)}\nmov eax, cr3\nmov cr3, eax\nmov edx, [${hex(LARGE.page + readOnly)}]`);
  add('PAE paging, ring 3: write to a read-only user page → #PF(7)', `${LTR}\n${pagingPae({ nxe: true })}\n${TO_RING3}\nmov eax, [${hex(plain)}]\nmov [${hex(readOnly + 8)}], eax`);
  add('PAE paging, ring 3: a user PTE under a supervisor PDE → #PF(5)', `${LTR}\n${pagingPae({ wp: true })}\n${TO_RING3}\nmov eax, [${hex(LARGE.supervisorPdePae + plain)}]`);
  add('32-bit paging, then PAE paging: paging off, CR4.PAE, CR3, paging on', `${paging32({ wp: true, pse: true })}\nmov eax, [${hex(LARGE.page)}]\nmov eax, cr0\nand eax, 0x7fffffff\nmov cr0, eax\n${pagingPae({ wp: true })}\nmov ecx, [${hex(LARGE.page + 4)}]\nmov edx, [${hex(plain)}]`);

  // ---- SMEP and SMAP (-cpu QEMU64_SYSTEM_CPU): the identity-mapped code, data and ring-3 stack are
  // user pages, the IDT, GDT, TSS, stop addresses and ring-0 stacks supervisor ones; the page
  // directory's supervisor entry maps the code again as supervisor code (absolute targets there:
  // a relative jump would stay in the alias) ---------------------------------------------------------
  const smep = setCr4(0x100000);
  const smap = setCr4(0x200000);
  const sys = { systemCpu: true };
  add('32-bit paging, CR4.SMEP: the next fetch from the (user) code page → #PF(0x11), I/D from SMEP alone', `${paging32({ wp: true })}\n${smep}\nnop`, sys);
  add(
    '32-bit paging, CR4.SMEP: supervisor code (through a supervisor PDE) reads and writes user data, then a fetch from a user page → #PF(0x11)',
    `${paging32({ wp: true })}\njmp ${hex(LARGE.supervisorPde32)} + .s\n.s: ${smep}\nmov eax, [${hex(plain)}]\nmov [${hex(plain + 8)}], eax\nmov eax, ${hex(noExec)}\njmp eax`,
    sys,
  );
  add('32-bit paging, CR4.SMAP: a supervisor read of a user page with EFLAGS.AC set (STAC), then clear (CLAC) → #PF(1)', `${paging32({ wp: true })}\n${smap}\nstac\nmov eax, [${hex(plain)}]\nclac\nmov ecx, [${hex(plain + 4)}]`, sys);
  add("32-bit paging, CR4.SMAP, ring 3: user accesses are not SMAP's, a supervisor page still → #PF(5)", `${LTR}\n${paging32({ wp: true })}\n${smap}\n${TO_RING3}\nmov eax, [${hex(plain)}]\nmov [${hex(plain + 0x10)}], eax\nmov ebx, [${hex(supervisor)}]`, sys);
  add('PAE paging, EFER.NXE, CR4.SMEP: the next fetch from the (user) code page → #PF(0x11)', `${pagingPae({ wp: true, nxe: true })}\n${smep}\nnop`, sys);
  add(
    'PAE paging, CR4.SMEP: supervisor code (through a supervisor PDE) runs, then a fetch from a user data page → #PF(0x11)',
    `${pagingPae({ wp: true })}\njmp ${hex(LARGE.supervisorPdePae)} + .s\n.s: ${smep}\nmov eax, [${hex(plain)}]\nmov eax, ${hex(plain)}\njmp eax`,
    sys,
  );
  add('PAE paging, CR4.SMAP: a supervisor write to a user page with AC set, then clear → #PF(3)', `${pagingPae({ wp: true, nxe: true })}\n${smap}\nstac\nmov [${hex(plain)}], eax\nclac\nmov [${hex(plain + 4)}], eax`, sys);

  add(
    'PAE paging, then long mode: paging off, EFER.LME, CR3 = the PML4, CR0.PG, a far jump to 64-bit code',
    `${pagingPae({ wp: true, nxe: true })}\nmov eax, [${hex(plain)}]\nmov eax, cr0\nand eax, 0x7fffffff\nmov cr0, eax\nmov ecx, 0xc0000080\nrdmsr\nor eax, 0x100\nwrmsr\nmov eax, 0x2000\nmov cr3, eax\nmov eax, cr0\nor eax, 0x80000000\nmov cr0, eax\njmp ${hex(S.code64)}:.l\nbits 64\n.l: mov rax, [0x20000]\npush rax\npop rcx\nbits 32`,
    { paging: true },
  );
  return out;
}
