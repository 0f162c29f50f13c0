/*
 * Generates host-sse.json: results and MXCSR flags of SSE floating-point operations computed by
 * the host CPU (the independent source for emulator/exec/sse/host-sse.spec.ts).
 * Build and run:  gcc -O1 -o /tmp/host-sse host-sse.c && /tmp/host-sse > host-sse.json
 * Every pair of 32 edge values under round-to-nearest for six operations; for all of them, every
 * MXCSR below with pairs of six of the values (unary operations: every value).
 * Each case: MXCSR loaded (exceptions masked unless the case unmasks some), operands loaded as
 * raw encodings into XMM0 (first operand) and XMM1, one scalar instruction, the result (XMM0's
 * low element, or a general register) and MXCSR read back. With an unmasked exception the CPU
 * raises #XM: the SIGFPE handler records MXCSR from the signal frame and the result is then
 * XMM0's old value (the destination is not written). Output lines:
 *   [op, mxcsr in, a, b, result, mxcsr out, faulted]
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

static sigjmp_buf jb;
static volatile uint32_t fault_mxcsr;

static void on_fpe(int sig, siginfo_t *si, void *ctx) {
  (void)sig; (void)si;
  fault_mxcsr = ((ucontext_t *)ctx)->uc_mcontext.fpregs->mxcsr;
  siglongjmp(jb, 1);
}

static const uint32_t f32[] = {
  0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x40400000, 0x40490fdb, 0x3eaaaaab,
  0x7f7fffff, 0xff7fffff, 0x00800000, 0x007fffff, 0x00000001, 0x80000003, 0x00ffffff, 0x7f800000,
  0xff800000, 0x7fc00001, 0xffc00100, 0x7f800100, 0xff800001, 0x4f000000, 0xcf000000, 0x4effffff,
  0x501502f9, 0x3f000000, 0x40200000, 0xc0200000, 0x3f800001, 0x5f000000, 0xdf000001, 0x00c00000,
};
static const uint64_t f64[] = {
  0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff0000000000000ull,
  0x3ff8000000000000ull, 0x4008000000000000ull, 0x400921fb54442d18ull, 0x3fd5555555555555ull,
  0x7fefffffffffffffull, 0xffefffffffffffffull, 0x0010000000000000ull, 0x000fffffffffffffull,
  0x0000000000000001ull, 0x8000000000000003ull, 0x001fffffffffffffull, 0x7ff0000000000000ull,
  0xfff0000000000000ull, 0x7ff8000000000001ull, 0xfff8000000000100ull, 0x7ff0000000000100ull,
  0xfff0000000000001ull, 0x41e0000000000000ull, 0xc1e0000000000000ull, 0x41dfffffffffffffull,
  0x43e0000000000000ull, 0x3fe0000000000000ull, 0x4004000000000000ull, 0x47efffffe0000000ull,
  0x36a0000000000000ull, 0x3ff0000000000001ull, 0xc3e0000000000001ull, 0x380fffffffffffffull,
};
#define N32 (sizeof f32 / sizeof f32[0])
#define N64 (sizeof f64 / sizeof f64[0])

/* Rounding modes, FZ, DAZ, FZ+DAZ; then unmasked IE, ZE, OE, UE, PE, and DE (one at a time). */
static const uint32_t mxcsrs[] = {0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9f80, 0x1fc0, 0x9fc0, 0x1f00, 0x1d80, 0x1b80, 0x1780, 0x0f80, 0x1e80};
#define NMX (sizeof mxcsrs / sizeof mxcsrs[0])
#define MASKED 7

typedef struct { uint64_t r; uint32_t mx; int faulted; } outcome;

/* One instruction on xmm0 (a, destination), xmm1 (b); r = xmm0's low 64 bits afterwards, or rax. */
#define OP(name, insn)                                                                          \
  static outcome name(uint32_t mx, uint64_t a, uint64_t b) {                                   \
    outcome o = {a, 0, 0};                                                                      \
    volatile uint32_t m = mx;                                                                   \
    uint64_t r = a;                                                                             \
    if (sigsetjmp(jb, 1)) { o.faulted = 1; o.mx = fault_mxcsr; o.r = a; return o; }            \
    __asm__ volatile("ldmxcsr %[m]\n\tmovq %[a], %%xmm0\n\tmovq %[b], %%xmm1\n\t"              \
                     "mov %[a], %%rax\n\t" insn "\n\tstmxcsr %[m]\n\tmov %%rax, %[r]"           \
                     : [m] "+m"(m), [r] "=r"(r) : [a] "r"(a), [b] "r"(b) : "xmm0", "xmm1", "rax", "memory"); \
    o.r = r; o.mx = m;                                                                          \
    return o;                                                                                   \
  }
#define XMM0 "\n\tmovq %%xmm0, %%rax"
OP(addss, "addss %%xmm1, %%xmm0" XMM0)
OP(subss, "subss %%xmm1, %%xmm0" XMM0)
OP(mulss, "mulss %%xmm1, %%xmm0" XMM0)
OP(divss, "divss %%xmm1, %%xmm0" XMM0)
OP(minss, "minss %%xmm1, %%xmm0" XMM0)
OP(maxss, "maxss %%xmm1, %%xmm0" XMM0)
OP(sqrtss, "sqrtss %%xmm1, %%xmm0" XMM0)
OP(addsd, "addsd %%xmm1, %%xmm0" XMM0)
OP(subsd, "subsd %%xmm1, %%xmm0" XMM0)
OP(mulsd, "mulsd %%xmm1, %%xmm0" XMM0)
OP(divsd, "divsd %%xmm1, %%xmm0" XMM0)
OP(minsd, "minsd %%xmm1, %%xmm0" XMM0)
OP(maxsd, "maxsd %%xmm1, %%xmm0" XMM0)
OP(sqrtsd, "sqrtsd %%xmm1, %%xmm0" XMM0)
OP(cmpltss, "cmpltss %%xmm1, %%xmm0" XMM0)
OP(cmpeqss, "cmpeqss %%xmm1, %%xmm0" XMM0)
OP(cmpunordsd, "cmpunordsd %%xmm1, %%xmm0" XMM0)
OP(cmplesd, "cmplesd %%xmm1, %%xmm0" XMM0)
OP(comiss, "comiss %%xmm1, %%xmm0\n\tpushfq\n\tpop %%rax")
OP(ucomiss, "ucomiss %%xmm1, %%xmm0\n\tpushfq\n\tpop %%rax")
OP(comisd, "comisd %%xmm1, %%xmm0\n\tpushfq\n\tpop %%rax")
OP(ucomisd, "ucomisd %%xmm1, %%xmm0\n\tpushfq\n\tpop %%rax")
OP(cvtss2sd, "cvtss2sd %%xmm1, %%xmm0" XMM0)
OP(cvtsd2ss, "cvtsd2ss %%xmm1, %%xmm0" XMM0)
OP(cvtss2si32, "cvtss2si %%xmm1, %%eax")
OP(cvttss2si64, "cvttss2si %%xmm1, %%rax")
OP(cvtsd2si64, "cvtsd2si %%xmm1, %%rax")
OP(cvttsd2si32, "cvttsd2si %%xmm1, %%eax")
OP(cvtsi2ss64, "movq %%xmm1, %%rax\n\tcvtsi2ss %%rax, %%xmm0" XMM0)
OP(cvtsi2sd64, "movq %%xmm1, %%rax\n\tcvtsi2sd %%rax, %%xmm0" XMM0)
OP(rcpss, "rcpss %%xmm1, %%xmm0" XMM0)
OP(rsqrtss, "rsqrtss %%xmm1, %%xmm0" XMM0)

typedef outcome (*opfn)(uint32_t, uint64_t, uint64_t);
static int first = 1;

static void emit(const char *name, uint32_t mx, uint64_t a, uint64_t b, outcome o) {
  printf("%s[\"%s\",%u,\"%llx\",\"%llx\",\"%llx\",%u,%d]", first ? "" : ",\n", name, mx,
         (unsigned long long)a, (unsigned long long)b, (unsigned long long)o.r, o.mx, o.faulted);
  first = 0;
}

/* A few values for the sweeps over every MXCSR: 1, 1/3, the largest finite, the largest denormal, a QNaN, an SNaN. */
static const size_t sweep_values[] = {2, 7, 8, 11, 18, 19};
#define NSWEEP (sizeof sweep_values / sizeof sweep_values[0])

static uint64_t value(int wide, size_t i) { return wide ? f64[i] : f32[i]; }

/* Every pair of values under round-to-nearest. */
static void full(const char *name, opfn f, int wide) {
  size_t n = wide ? N64 : N32;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) emit(name, 0x1f80, value(wide, i), value(wide, j), f(0x1f80, value(wide, i), value(wide, j)));
}

/* Every MXCSR: pairs of the sweep values, or (unary) every value as the source. */
static void sweep(const char *name, opfn f, int wide, int unary) {
  size_t n = wide ? N64 : N32;
  for (size_t k = 0; k < NMX; k++) {
    if (unary) {
      for (size_t j = 0; j < n; j++) emit(name, mxcsrs[k], 0x3ff0000000000000ull, value(wide, j), f(mxcsrs[k], 0x3ff0000000000000ull, value(wide, j)));
      continue;
    }
    for (size_t i = 0; i < NSWEEP; i++)
      for (size_t j = 0; j < NSWEEP; j++) {
        uint64_t a = value(wide, sweep_values[i]), b = value(wide, sweep_values[j]);
        emit(name, mxcsrs[k], a, b, f(mxcsrs[k], a, b));
      }
  }
}

/* Products tiny before rounding but not after (and one tiny either way), under RN, FZ, UE unmasked. */
static void tiny(void) {
  static const uint32_t mx[] = {0x1f80, 0x9f80, 0x1780, 0x9780, 0x5f80, 0xdf80};
  for (size_t k = 0; k < sizeof mx / sizeof mx[0]; k++) {
    emit("mulsd", mx[k], 0x000fffffffffffffull, 0x3ff0000000000001ull, mulsd(mx[k], 0x000fffffffffffffull, 0x3ff0000000000001ull));
    emit("mulss", mx[k], 0x007fffff, 0x3f800001, mulss(mx[k], 0x007fffff, 0x3f800001));
    emit("mulss", mx[k], 0x00ffffff, 0x3f000000, mulss(mx[k], 0x00ffffff, 0x3f000000));
    emit("mulss", mx[k], 0x00800000, 0x3f7fffff, mulss(mx[k], 0x00800000, 0x3f7fffff));
  }
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fpe;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGFPE, &sa, 0);
  printf("[\n");
  full("addss", addss, 0); full("mulsd", mulsd, 1); full("divss", divss, 0); full("minsd", minsd, 1);
  full("cmpltss", cmpltss, 0); full("comisd", comisd, 1);
  sweep("addss", addss, 0, 0); sweep("subss", subss, 0, 0); sweep("mulss", mulss, 0, 0); sweep("divss", divss, 0, 0);
  sweep("minss", minss, 0, 0); sweep("maxss", maxss, 0, 0); sweep("sqrtss", sqrtss, 0, 1);
  sweep("addsd", addsd, 1, 0); sweep("subsd", subsd, 1, 0); sweep("mulsd", mulsd, 1, 0); sweep("divsd", divsd, 1, 0);
  sweep("minsd", minsd, 1, 0); sweep("maxsd", maxsd, 1, 0); sweep("sqrtsd", sqrtsd, 1, 1);
  sweep("cmpltss", cmpltss, 0, 0); sweep("cmpeqss", cmpeqss, 0, 0); sweep("cmpunordsd", cmpunordsd, 1, 0); sweep("cmplesd", cmplesd, 1, 0);
  sweep("comiss", comiss, 0, 0); sweep("ucomiss", ucomiss, 0, 0); sweep("comisd", comisd, 1, 0); sweep("ucomisd", ucomisd, 1, 0);
  sweep("cvtss2sd", cvtss2sd, 0, 1); sweep("cvtsd2ss", cvtsd2ss, 1, 1);
  sweep("cvtss2si32", cvtss2si32, 0, 1); sweep("cvttss2si64", cvttss2si64, 0, 1);
  sweep("cvtsd2si64", cvtsd2si64, 1, 1); sweep("cvttsd2si32", cvttsd2si32, 1, 1);
  sweep("cvtsi2ss64", cvtsi2ss64, 1, 1); sweep("cvtsi2sd64", cvtsi2sd64, 1, 1);
  sweep("rcpss", rcpss, 0, 1); sweep("rsqrtss", rsqrtss, 0, 1);
  tiny();
  printf("\n]\n");
  return 0;
}
