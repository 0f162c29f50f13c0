/*
 * Generates host-x87.json: results and exception flags of x87 operations computed by the host
 * CPU's own FPU (the independent source for emulator/fpu/floatx80.spec.ts).
 * Build and run:  gcc -O1 -o /tmp/host-x87 host-x87.c && /tmp/host-x87 > host-x87.json
 * Each case: FCW set (all exceptions masked), FNCLEX, operands loaded as raw 80-bit values,
 * one instruction, the result stored raw (80-bit, or the m32/m64/m64int image), FSW read back.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct { uint64_t lo; uint16_t hi; } x80;

static const x80 values[] = {
  {0, 0}, {0, 0x8000}, {0x8000000000000000ull, 0x3fff}, {0xc90fdaa22168c235ull, 0x4000},
  {0xaaaaaaaaaaaaaaabull, 0x3ffd}, {0xffffffffffffffffull, 0x3fff}, {0x8000018000000000ull, 0x3fff},
  {0x8000000000000c00ull, 0xbfff}, {0xffffffffffffffffull, 0x7ffe}, {0x8000000000000000ull, 0x0001},
  {0x7fffffffffffffffull, 0x0000}, {0x0000000000000001ull, 0x8000}, {0x8000000000000001ull, 0x0000},
  {0x8000000000000000ull, 0x7fff}, {0xc000000000000123ull, 0x7fff}, {0x8000000000000789ull, 0xffff},
  {0x4000000000000000ull, 0x3fff}, {0xa000000000000000ull, 0xc000},
};
/* RN/64, RD/24, RU/53, RZ/64 for the arithmetic; the unary operations also see RN/24, RN/53, RD/64. */
static const uint16_t cws[] = {0x037f, 0x047f, 0x0a7f, 0x0f7f, 0x007f, 0x027f, 0x077f};

#define BIN(name, insn)                                                                        \
  static uint16_t name(uint16_t cw, const x80 *a, const x80 *b, x80 *r) {                       \
    uint16_t sw;                                                                                \
    __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\t" insn "\n\tfstpt %[r]\n\tfnstsw %[sw]\n\tfninit" \
                     : [r] "=m"(*r), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a), [b] "m"(*b));   \
    return sw;                                                                                  \
  }
BIN(op_add, "fadd %%st(1), %%st(0)")
BIN(op_sub, "fsub %%st(1), %%st(0)")
BIN(op_mul, "fmul %%st(1), %%st(0)")
BIN(op_div, "fdiv %%st(1), %%st(0)")
BIN(op_sqrt, "fsqrt")
BIN(op_rndint, "frndint")
BIN(op_scale, "fscale")
BIN(op_prem, "fprem")
BIN(op_cmp, "fcom %%st(1)")
BIN(op_ucmp, "fucom %%st(1)")

#define STORE(name, insn, T)                                                                    \
  static uint16_t name(uint16_t cw, const x80 *a, const x80 *b, x80 *r) {                       \
    uint16_t sw; T v = 0; (void)b;                                                              \
    __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\t" insn " %[v]\n\tfnstsw %[sw]\n\tfninit" \
                     : [v] "=m"(v), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(*a));                 \
    memset(r, 0, sizeof *r); memcpy(&r->lo, &v, sizeof v);                                     \
    return sw;                                                                                  \
  }
STORE(op_f32, "fstps", uint32_t)
STORE(op_f64, "fstpl", uint64_t)
STORE(op_i64, "fistpll", uint64_t)
STORE(op_i32, "fistpl", uint32_t)

typedef uint16_t (*fn)(uint16_t, const x80 *, const x80 *, x80 *);
static const struct { const char *name; fn f; int binary; } ops[] = {
  {"add", op_add, 1}, {"sub", op_sub, 1}, {"mul", op_mul, 1}, {"div", op_div, 1}, {"sqrt", op_sqrt, 0},
  {"rndint", op_rndint, 0}, {"scale", op_scale, 1}, {"prem", op_prem, 1}, {"com", op_cmp, 1}, {"ucom", op_ucmp, 1},
  {"f32", op_f32, 0}, {"f64", op_f64, 0}, {"i64", op_i64, 0}, {"i32", op_i32, 0},
};

int main(void) {
  const int nv = sizeof values / sizeof values[0];
  const int nc = sizeof cws / sizeof cws[0];
  int first = 1;
  printf("[\n");
  for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
    for (int c = 0; c < nc; c++) {
      /* add/sub/mul/div under the first four control words, the other binary operations under RN/64, unary under all */
      if (ops[o].binary && (c >= 4 || (o > 3 && c > 0))) continue;
      for (int i = 0; i < nv; i++) {
        for (int j = 0; j < (ops[o].binary ? nv : 1); j++) {
          x80 r;
          uint16_t sw = ops[o].f(cws[c], &values[i], &values[j], &r);
          /* [op, fcw, a, b, result (hi:lo), fsw] */
          printf("%s[\"%s\",%u,\"%04x%016llx\",\"%04x%016llx\",\"%04x%016llx\",%u]", first ? "" : ",\n", ops[o].name, cws[c],
                 values[i].hi, (unsigned long long)values[i].lo, values[j].hi, (unsigned long long)values[j].lo,
                 r.hi, (unsigned long long)r.lo, sw);
          first = 0;
        }
      }
    }
  }
  printf("\n]\n");
  return 0;
}
