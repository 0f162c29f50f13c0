/*
 * Generates host-bmi2.json: results and RFLAGS of BMI2's instructions (BZHI, PDEP, PEXT, SHLX,
 * SARX, SHRX, RORX, MULX) computed by the host x86-64 CPU, in 32- and 64-bit forms, with RFLAGS
 * preset to all status flags set and to all clear (so a flag an instruction leaves alone shows).
 * Build and run (needs a CPU with BMI2):
 *   gcc -O1 -mbmi2 -o /tmp/host-bmi2 host-bmi2.c && /tmp/host-bmi2 > host-bmi2.json
 * Each line: [insn, width, a, b, flags in, result, second result, flags out]. In Intel order:
 * bzhi x, a, b; pdep/pext x, a, b (b the mask); shlx/sarx/shrx x, a, b (b the count); rorx x, a, b
 * (b the immediate); mulx x, y, a with RDX = b (x the high half, y the low one); "mulx-same" is
 * mulx x, x, a (one register as both destinations: the second result is 0).
 */
#include <stdint.h>
#include <stdio.h>

typedef void (*Fn)(uint64_t, uint64_t, uint64_t, uint64_t *, uint64_t *, uint64_t *);

/* AT&T order: "op %b, %a, %x" is Intel "op x, a, b" */
#define THREE(insn, width, reg)                                                                    \
  static void run_##insn##_##width(uint64_t a, uint64_t b, uint64_t fin, uint64_t *r, uint64_t *r2, uint64_t *f) { \
    uint64_t x, fl = fin;                                                                          \
    __asm__ volatile("push %[fl]\n\tpopfq\n\t" #insn " %" reg "[b], %" reg "[a], %" reg "[x]\n\tpushfq\n\tpop %[fl]" \
                     : [x] "=&r"(x), [fl] "+r"(fl)                                                 \
                     : [a] "r"(a), [b] "r"(b)                                                      \
                     : "cc");                                                                      \
    *r = x, *r2 = 0, *f = fl;                                                                      \
  }
#define MULX(width, reg)                                                                           \
  static void run_mulx_##width(uint64_t a, uint64_t b, uint64_t fin, uint64_t *r, uint64_t *r2, uint64_t *f) { \
    uint64_t x, y, fl = fin;                                                                       \
    __asm__ volatile("push %[fl]\n\tpopfq\n\tmulx %" reg "[a], %" reg "[y], %" reg "[x]\n\tpushfq\n\tpop %[fl]" \
                     : [x] "=&r"(x), [y] "=&r"(y), [fl] "+r"(fl)                                   \
                     : [a] "r"(a), "d"(b)                                                          \
                     : "cc");                                                                      \
    *r = x, *r2 = y, *f = fl;                                                                      \
  }                                                                                                \
  static void run_mulxsame_##width(uint64_t a, uint64_t b, uint64_t fin, uint64_t *r, uint64_t *r2, uint64_t *f) { \
    uint64_t x, fl = fin;                                                                          \
    __asm__ volatile("push %[fl]\n\tpopfq\n\tmulx %" reg "[a], %" reg "[x], %" reg "[x]\n\tpushfq\n\tpop %[fl]" \
                     : [x] "=&r"(x), [fl] "+r"(fl)                                                 \
                     : [a] "r"(a), "d"(b)                                                          \
                     : "cc");                                                                      \
    *r = x, *r2 = 0, *f = fl;                                                                      \
  }
/* RORX takes its count as an immediate: one function per count */
#define RORX(width, reg, imm)                                                                      \
  static void run_rorx_##width##_##imm(uint64_t a, uint64_t b, uint64_t fin, uint64_t *r, uint64_t *r2, uint64_t *f) { \
    uint64_t x, fl = fin;                                                                          \
    (void)b;                                                                                       \
    __asm__ volatile("push %[fl]\n\tpopfq\n\trorx $" #imm ", %" reg "[a], %" reg "[x]\n\tpushfq\n\tpop %[fl]" \
                     : [x] "=&r"(x), [fl] "+r"(fl)                                                 \
                     : [a] "r"(a)                                                                  \
                     : "cc");                                                                      \
    *r = x, *r2 = 0, *f = fl;                                                                      \
  }

THREE(bzhi, 32, "k") THREE(bzhi, 64, "q") THREE(pdep, 32, "k") THREE(pdep, 64, "q") THREE(pext, 32, "k") THREE(pext, 64, "q")
THREE(shlx, 32, "k") THREE(shlx, 64, "q") THREE(sarx, 32, "k") THREE(sarx, 64, "q") THREE(shrx, 32, "k") THREE(shrx, 64, "q")
MULX(32, "k") MULX(64, "q")
RORX(32, "k", 0) RORX(32, "k", 1) RORX(32, "k", 5) RORX(32, "k", 31) RORX(32, "k", 32) RORX(32, "k", 33) RORX(32, "k", 255)
RORX(64, "q", 0) RORX(64, "q", 1) RORX(64, "q", 5) RORX(64, "q", 31) RORX(64, "q", 63) RORX(64, "q", 64) RORX(64, "q", 255)

enum Operand { VALUE, COUNT, NONE };
static const struct { const char *name; int width; Fn fn; enum Operand b; uint64_t imm; } OPS[] = {
  {"bzhi", 32, run_bzhi_32, COUNT}, {"bzhi", 64, run_bzhi_64, COUNT},
  {"pdep", 32, run_pdep_32, VALUE}, {"pdep", 64, run_pdep_64, VALUE},
  {"pext", 32, run_pext_32, VALUE}, {"pext", 64, run_pext_64, VALUE},
  {"shlx", 32, run_shlx_32, COUNT}, {"shlx", 64, run_shlx_64, COUNT},
  {"sarx", 32, run_sarx_32, COUNT}, {"sarx", 64, run_sarx_64, COUNT},
  {"shrx", 32, run_shrx_32, COUNT}, {"shrx", 64, run_shrx_64, COUNT},
  {"mulx", 32, run_mulx_32, VALUE}, {"mulx", 64, run_mulx_64, VALUE},
  {"mulx-same", 32, run_mulxsame_32, VALUE}, {"mulx-same", 64, run_mulxsame_64, VALUE},
  {"rorx", 32, run_rorx_32_0, NONE, 0}, {"rorx", 32, run_rorx_32_1, NONE, 1}, {"rorx", 32, run_rorx_32_5, NONE, 5},
  {"rorx", 32, run_rorx_32_31, NONE, 31}, {"rorx", 32, run_rorx_32_32, NONE, 32}, {"rorx", 32, run_rorx_32_33, NONE, 33},
  {"rorx", 32, run_rorx_32_255, NONE, 255},
  {"rorx", 64, run_rorx_64_0, NONE, 0}, {"rorx", 64, run_rorx_64_1, NONE, 1}, {"rorx", 64, run_rorx_64_5, NONE, 5},
  {"rorx", 64, run_rorx_64_31, NONE, 31}, {"rorx", 64, run_rorx_64_63, NONE, 63}, {"rorx", 64, run_rorx_64_64, NONE, 64},
  {"rorx", 64, run_rorx_64_255, NONE, 255},
};
static const uint64_t VALUES[] = {0, 1, 2, 0x80, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull, 0x8000000000000000ull,
                                  0xffffffffffffffffull, 0x123456789abcdef0ull, 0xfffffffe00000000ull, 0x0f0f0f0f0f0f0f0full,
                                  0x5555555555555555ull};
/* indexes and counts: bits 7:0 at and past 31 and 63, and junk above them */
static const uint64_t COUNTS[] = {0, 1, 7, 30, 31, 32, 33, 62, 63, 64, 65, 0x80, 0xff, 0x100, 0xffffffff00000121ull};
static const uint64_t FLAGS_IN[] = {0x202, 0xad7};

int main(void) {
  int first = 1;
  printf("[\n");
  for (unsigned o = 0; o < sizeof OPS / sizeof OPS[0]; o++) {
    const uint64_t *bs = OPS[o].b == COUNT ? COUNTS : OPS[o].b == VALUE ? VALUES : &OPS[o].imm;
    unsigned nb = OPS[o].b == COUNT ? sizeof COUNTS / sizeof COUNTS[0] : OPS[o].b == VALUE ? sizeof VALUES / sizeof VALUES[0] : 1;
    for (unsigned i = 0; i < sizeof VALUES / sizeof VALUES[0]; i++)
      for (unsigned j = 0; j < nb; j++)
        for (unsigned k = 0; k < 2; k++) {
          uint64_t a = VALUES[i], b = bs[j], r, r2, f;
          OPS[o].fn(a, b, FLAGS_IN[k], &r, &r2, &f);
          printf("%s[\"%s\",%d,\"%llx\",\"%llx\",%llu,\"%llx\",\"%llx\",%llu]", first ? "" : ",\n", OPS[o].name, OPS[o].width,
                 (unsigned long long)a, (unsigned long long)b, (unsigned long long)FLAGS_IN[k], (unsigned long long)r,
                 (unsigned long long)r2, (unsigned long long)(f & 0xfff));
          first = 0;
        }
  }
  printf("\n]\n");
  return 0;
}
