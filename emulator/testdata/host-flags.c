/*
 * Generates host-flags.json: results and RFLAGS of integer instructions computed by the host
 * x86-64 CPU (the independent source for emulator/exec/*.spec.ts expectations).
 * Build and run:  gcc -O1 -o /tmp/host-flags host-flags.c && /tmp/host-flags > host-flags.json
 * Only architecturally defined flags are compared by the tests (undefined ones are masked with
 * the opcode table's flagsUndefined).
 */
#include <stdint.h>
#include <stdio.h>

#define RUN(insn, width, reg)                                                                   \
  static void run_##insn##_##width(uint64_t a, uint64_t b, uint64_t fin, uint64_t *r, uint64_t *f) { \
    uint64_t x = a, fl = fin;                                                                   \
    __asm__ volatile("push %[fl]\n\tpopfq\n\t" #insn " %" reg "[b], %" reg "[x]\n\tpushfq\n\tpop %[fl]" \
                     : [x] "+r"(x), [fl] "+r"(fl)                                               \
                     : [b] "r"(b)                                                               \
                     : "cc");                                                                   \
    *r = x;                                                                                     \
    *f = fl;                                                                                    \
  }

#define ALL(insn) RUN(insn, 8, "b") RUN(insn, 16, "w") RUN(insn, 32, "k") RUN(insn, 64, "q")
ALL(add) ALL(adc) ALL(sub) ALL(sbb) ALL(and) ALL(or) ALL(xor) ALL(cmp)

#define SHIFT(insn, width, reg)                                                                 \
  static void run_##insn##_##width(uint64_t a, uint64_t b, uint64_t fin, uint64_t *r, uint64_t *f) { \
    uint64_t x = a, fl = fin;                                                                   \
    __asm__ volatile("push %[fl]\n\tpopfq\n\tmov %[b], %%rcx\n\t" #insn " %%cl, %" reg "[x]\n\tpushfq\n\tpop %[fl]" \
                     : [x] "+r"(x), [fl] "+r"(fl)                                               \
                     : [b] "r"(b)                                                               \
                     : "cc", "rcx");                                                            \
    *r = x;                                                                                     \
    *f = fl;                                                                                    \
  }
#define SALL(insn) SHIFT(insn, 8, "b") SHIFT(insn, 16, "w") SHIFT(insn, 32, "k") SHIFT(insn, 64, "q")
SALL(shl) SALL(shr) SALL(sar) SALL(rol) SALL(ror) SALL(rcl) SALL(rcr)

typedef void (*fn)(uint64_t, uint64_t, uint64_t, uint64_t *, uint64_t *);
struct op { const char *name; int width; fn f; int shift; };
#define E(n) {#n, 8, run_##n##_8, 0}, {#n, 16, run_##n##_16, 0}, {#n, 32, run_##n##_32, 0}, {#n, 64, run_##n##_64, 0}
#define S(n) {#n, 8, run_##n##_8, 1}, {#n, 16, run_##n##_16, 1}, {#n, 32, run_##n##_32, 1}, {#n, 64, run_##n##_64, 1}
static const struct op ops[] = {E(add), E(adc), E(sub), E(sbb), E(and), E(or), E(xor), E(cmp),
                                S(shl), S(shr), S(sar), S(rol), S(ror), S(rcl), S(rcr)};

static const uint64_t values[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0x7fffffff, 0x80000000, 0xffffffff,
                                  0x8000000000000000ull, 0xffffffffffffffffull, 0xdeadbeefcafebabeull,
                                  0x1111111111111111ull};
static const uint64_t counts[] = {0, 1, 2, 7, 8, 9, 16, 17, 31, 32, 33, 63};

int main(void) {
  const int nv = sizeof values / sizeof values[0];
  printf("[\n");
  int first = 1;
  for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    const char *n = ops[i].name;
    int carryIn = (n[0] == 'a' && n[1] == 'd' && n[2] == 'c') || (n[0] == 's' && n[1] == 'b') || (n[0] == 'r' && n[1] == 'c');
    for (int cin = 0; cin < 1 + carryIn; cin++) {
      for (int ai = 0; ai < nv; ai++) {
        int nb = ops[i].shift ? (int)(sizeof counts / sizeof counts[0]) : nv;
        for (int bi = 0; bi < nb; bi++) {
          uint64_t a = values[ai], b = ops[i].shift ? counts[bi] : values[bi];
          uint64_t r, f, fin = 0x202 | (uint64_t)cin; /* IF set as user mode requires; CF = cin */
          ops[i].f(a, b, fin, &r, &f);
          /* [op, width, a, b, carry-in, result register, RFLAGS & 0x8d5] */
          printf("%s[\"%s\",%d,\"%llx\",\"%llx\",%d,\"%llx\",%llu]",
                 first ? "" : ",\n", ops[i].name, ops[i].width, (unsigned long long)a, (unsigned long long)b, cin,
                 (unsigned long long)r, (unsigned long long)(f & 0x8d5));
          first = 0;
        }
      }
    }
  }
  printf("\n]\n");
  return 0;
}
