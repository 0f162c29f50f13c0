/*
 * Generates host-bmi1.json: results and RFLAGS of BMI1's VEX instructions (ANDN, BEXTR, BLSI,
 * BLSMSK, BLSR) computed by the host x86-64 CPU, in 32- and 64-bit forms, with RFLAGS preset to
 * all status flags set and to all clear (so a flag an instruction leaves alone would show).
 * Build and run (needs a CPU with BMI1):
 *   gcc -O1 -mbmi -o /tmp/host-bmi1 host-bmi1.c && /tmp/host-bmi1 > host-bmi1.json
 * Each line: [insn, width, a, b, flags in, result, flags out]: `a` is ANDN's inverted source
 * (VEX.vvvv) and the r/m source of the others; `b` is ANDN's r/m source and BEXTR's control.
 */
#include <stdint.h>
#include <stdio.h>

#define TWO(insn, width, reg)                                                                     \
  static void run_##insn##_##width(uint64_t a, uint64_t b, uint64_t fin, uint64_t *r, uint64_t *f) { \
    uint64_t x, fl = fin;                                                                         \
    __asm__ volatile("push %[fl]\n\tpopfq\n\t" #insn " %" reg "[b], %" reg "[a], %" reg "[x]\n\tpushfq\n\tpop %[fl]" \
                     : [x] "=&r"(x), [fl] "+r"(fl)                                                \
                     : [a] "r"(a), [b] "r"(b)                                                     \
                     : "cc");                                                                     \
    *r = x;                                                                                       \
    *f = fl;                                                                                      \
  }
#define ONE(insn, width, reg)                                                                     \
  static void run_##insn##_##width(uint64_t a, uint64_t b, uint64_t fin, uint64_t *r, uint64_t *f) { \
    uint64_t x, fl = fin;                                                                         \
    (void)b;                                                                                      \
    __asm__ volatile("push %[fl]\n\tpopfq\n\t" #insn " %" reg "[a], %" reg "[x]\n\tpushfq\n\tpop %[fl]" \
                     : [x] "=&r"(x), [fl] "+r"(fl)                                                \
                     : [a] "r"(a)                                                                 \
                     : "cc");                                                                     \
    *r = x;                                                                                       \
    *f = fl;                                                                                      \
  }
/* AT&T order: andn b, a, x is x = ~a & b (Intel: andn x, a, b); bextr b, a, x is x = bextr(a, b) */
TWO(andn, 32, "k") TWO(andn, 64, "q") TWO(bextr, 32, "k") TWO(bextr, 64, "q")
ONE(blsi, 32, "k") ONE(blsi, 64, "q") ONE(blsmsk, 32, "k") ONE(blsmsk, 64, "q") ONE(blsr, 32, "k") ONE(blsr, 64, "q")

typedef void (*Fn)(uint64_t, uint64_t, uint64_t, uint64_t *, uint64_t *);
static const struct { const char *name; int width; Fn fn; int usesB; } OPS[] = {
  {"andn", 32, run_andn_32, 1}, {"andn", 64, run_andn_64, 1}, {"bextr", 32, run_bextr_32, 2}, {"bextr", 64, run_bextr_64, 2},
  {"blsi", 32, run_blsi_32, 0}, {"blsi", 64, run_blsi_64, 0}, {"blsmsk", 32, run_blsmsk_32, 0}, {"blsmsk", 64, run_blsmsk_64, 0},
  {"blsr", 32, run_blsr_32, 0}, {"blsr", 64, run_blsr_64, 0},
};
static const uint64_t VALUES[] = {0, 1, 2, 0x80, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull, 0x8000000000000000ull,
                                  0xffffffffffffffffull, 0x123456789abcdef0ull, 0xfffffffe00000000ull, 0x0f0f0f0f0f0f0f0full};
static const uint64_t CONTROLS[] = {0, 0x0800, 0x0404, 0x2010, 0x401f, 0x4020, 0xff00, 0x0040, 0x00ff, 0x2038, 0x1f01, 0x3f01,
                                    0x4000, 0x2001, 0xffff00001008ull, 0x0120};
static const uint64_t FLAGS_IN[] = {0x202, 0xad7};

int main(void) {
  int first = 1;
  printf("[\n");
  for (unsigned o = 0; o < sizeof OPS / sizeof OPS[0]; o++) {
    unsigned nb = OPS[o].usesB == 2 ? sizeof CONTROLS / sizeof CONTROLS[0] : OPS[o].usesB ? sizeof VALUES / sizeof VALUES[0] : 1;
    for (unsigned i = 0; i < sizeof VALUES / sizeof VALUES[0]; i++)
      for (unsigned j = 0; j < nb; j++)
        for (unsigned k = 0; k < 2; k++) {
          uint64_t a = VALUES[i], b = OPS[o].usesB == 2 ? CONTROLS[j] : OPS[o].usesB ? VALUES[j] : 0, r, f;
          OPS[o].fn(a, b, FLAGS_IN[k], &r, &f);
          printf("%s[\"%s\",%d,\"%llx\",\"%llx\",%llu,\"%llx\",%llu]", first ? "" : ",\n", OPS[o].name, OPS[o].width,
                 (unsigned long long)a, (unsigned long long)b, (unsigned long long)FLAGS_IN[k], (unsigned long long)r,
                 (unsigned long long)(f & 0xfff));
          first = 0;
        }
  }
  printf("\n]\n");
  return 0;
}
