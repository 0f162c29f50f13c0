/*
 * Generates host-shld-rip.json: where the host x86-64 CPU applies SHLD/SHRD m, r, imm8 when the
 * memory operand is RIP-relative ([rip+disp32], the displacement counted from the end of the
 * instruction, after the imm8) and when it is [rdi+disp8], for 16/32/64-bit operands.
 * Build and run (as a user allowed to map address 0x10000, e.g. root):
 *   gcc -O1 -o /tmp/host-shld-rip host-shld-rip.c && /tmp/host-shld-rip > host-shld-rip.json
 *
 * The instruction bytes run at the test machine's addresses (code at 0x10000, data at 0x20000),
 * so the very same bytes run on the host, on the emulator (exec/host-shld-rip.spec.ts) and on
 * QEMU (differential.int.spec.ts). QEMU 7.2 computes the RIP-relative address without counting
 * the imm8 (translate.c do_shiftd calls gen_lea_modrm with s->rip_offset still 0), so it works
 * on the operand one byte below; the host CPU does not.
 *
 * Each case: code (the SHLD/SHRD only; the program appends pushfq; pop rax; ret), the source
 * register value (RSI), the data page's first 64 bytes after the run (before: byte i = 0x11*i+1)
 * and the status flags.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CODE 0x10000ul
#define DATA 0x20000ul
#define TARGET (DATA + 0x10) /* the operand both forms name */

static uint8_t *map(unsigned long addr, int prot) {
  void *p = mmap((void *)addr, 0x1000, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != (void *)addr) {
    perror("mmap (needs vm.mmap_min_addr <= 0x10000)");
    exit(1);
  }
  return p;
}

/* [66|48] 0F A4/AC modrm ... imm8 with reg = RSI; rip: modrm 0x35 + disp32; base: modrm 0x77 = [rdi+disp8]. */
static int encode(uint8_t *out, int right, int width, int rip, int count) {
  int n = 0;
  if (width == 16) out[n++] = 0x66;
  if (width == 64) out[n++] = 0x48;
  out[n++] = 0x0f;
  out[n++] = right ? 0xac : 0xa4;
  if (rip) {
    out[n++] = 0x35;
    int32_t disp = (int32_t)(TARGET - (CODE + n + 4 + 1)); /* from the end: disp32 and imm8 follow */
    memcpy(out + n, &disp, 4);
    n += 4;
  } else {
    out[n++] = 0x77;
    out[n++] = (uint8_t)(TARGET - DATA);
  }
  out[n++] = (uint8_t)count;
  return n;
}

int main(void) {
  uint8_t *code = map(CODE, PROT_READ | PROT_WRITE | PROT_EXEC);
  uint8_t *data = map(DATA, PROT_READ | PROT_WRITE);
  const uint64_t src = 0x8877665544332211ull;
  const int counts[] = {1, 4, 13};
  int first = 1;
  printf("[\n");
  for (int right = 0; right < 2; right++)
    for (int w = 16; w <= 64; w *= 2)
      for (int rip = 1; rip >= 0; rip--)
        for (unsigned c = 0; c < sizeof counts / sizeof counts[0]; c++) {
          for (int i = 0; i < 64; i++) data[i] = (uint8_t)(0x11 * i + 1);
          int n = encode(code, right, w, rip, counts[c]);
          memcpy(code + n, "\x9c\x58\xc3", 3); /* pushfq; pop rax; ret */
          __builtin___clear_cache((char *)code, (char *)code + n + 3);
          uint64_t (*f)(uint64_t, uint64_t) = (uint64_t (*)(uint64_t, uint64_t))(uintptr_t)code;
          uint64_t flags = f(DATA, src);
          printf("%s  {\"insn\": \"%s %d %s %d\", \"code\": \"", first ? "" : ",\n", right ? "shrd" : "shld", w, rip ? "rip" : "base", counts[c]);
          for (int i = 0; i < n; i++) printf("%02x", code[i]);
          printf("\", \"rsi\": \"%llx\", \"rdi\": \"%lx\", \"data\": \"", (unsigned long long)src, DATA);
          for (int i = 0; i < 64; i++) printf("%02x", data[i]);
          printf("\", \"flags\": %llu}", (unsigned long long)(flags & 0x8d5));
          first = 0;
        }
  printf("\n]\n");
  return 0;
}
