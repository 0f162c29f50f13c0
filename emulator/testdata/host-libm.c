/*
 * Generates host-libm.json: glibc's sin/cos/tan of doubles spread over every exponent up to
 * 2^63 (QEMU 7.2's FSIN/FCOS/FSINCOS/FPTAN call these), the expectation for emulator/fpu/libm.spec.ts.
 * Build and run:  gcc -O1 -o /tmp/host-libm host-libm.c -lm && /tmp/host-libm > host-libm.json
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

int main(void) {
  printf("[\n");
  for (int i = 0; i < 400; i++) {
    uint64_t r = next();
    /* biased exponent 0 (subnormal) … 1086 (2^63), random sign and significand */
    uint64_t e = (next() % 1087);
    uint64_t bits = (r & 0x800fffffffffffffull) | (e << 52);
    double x, s, c, t;
    memcpy(&x, &bits, 8);
    s = sin(x), c = cos(x), t = tan(x);
    uint64_t bs, bc, bt;
    memcpy(&bs, &s, 8), memcpy(&bc, &c, 8), memcpy(&bt, &t, 8);
    printf("%s[\"%016llx\",\"%016llx\",\"%016llx\",\"%016llx\"]", i ? ",\n" : "", (unsigned long long)bits, (unsigned long long)bs,
           (unsigned long long)bc, (unsigned long long)bt);
  }
  printf("\n]\n");
  return 0;
}
