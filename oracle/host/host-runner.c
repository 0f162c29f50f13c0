/*
 * difftest host runner: runs test-machine code natively on the host CPU at CPL 3, the third
 * opinion when the emulator and QEMU disagree. Compiled on first use by oracle/host/runner-build.ts
 * (`cc -O2`); driven by oracle/host/host-runner.ts over stdin/stdout (framing below).
 *
 * Memory: one memfd holds the test machine's low 0x30000 bytes. The runner reads and writes it
 * through a private read/write alias; the guest sees it at the test machine's addresses with the
 * test machine's page rights (contracts/test-machine.ts): 0x0-0x5fff read-only (page 0 only when
 * the kernel lets us map it), 0x6000 read+exec, 0x8000-0xffff and 0x20000-0x2ffff read/write,
 * 0x10000-0x1ffff read/write/exec; 0x7000 and everything above 0x30000 unmapped.
 *
 * Running: the guest's registers are loaded by returning from a signal handler with the guest's
 * context in the signal frame (the kernel's sigreturn loads every GPR, RIP, RFLAGS and the
 * FXSAVE image), and every guest instruction is single-stepped with TF, so the runner counts
 * retired instructions exactly as a gdb stub does (each REP iteration one) and checks stop
 * addresses before each instruction. A fault arrives as a signal whose frame holds the
 * hardware's vector (trapno), error code and, for #PF, the address; the runner reports it and
 * switches back to its own context. All handlers run on an alternate stack, so nothing is ever
 * written to the guest's stack but what its own instructions write.
 *
 * What CPL 3 cannot hold is kept virtually: IF, IOPL, NT, ID and the guest's own TF. PUSHF has
 * them patched into the value it stored, POPF's popped value sets them (as at CPL 0), and a
 * guest TF becomes a #DB trap after the instruction it was set at the start of.
 *
 * System calls: a seccomp filter traps every system call made from guest addresses (SYSCALL,
 * INT 0x80) with SIGSYS and reports it; the runner's own calls are limited to the few it needs.
 *
 * Framing: request = u32 op, u32 length, payload; reply = u32 status (0 ok), u32 length, payload.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define MEM_SIZE 0x30000ul
#define GUEST_LIMIT 0x100000ul /* system calls from below here are the guest's */
#define MAX_STOPS 64
#define PROTOCOL_VERSION 1

enum { OP_WRITE = 1, OP_READ = 2, OP_SET_CONTEXT = 3, OP_GET_CONTEXT = 4, OP_RUN = 5, OP_CPUID = 6 };
enum { END_BUDGET = 0, END_STOP = 1, END_EXCEPTION = 2, END_SYSCALL = 3 };

#define F_CF 0x1ul
#define F_TF 0x100ul
#define F_IF 0x200ul
#define F_IOPL 0x3000ul
#define F_NT 0x4000ul
#define F_ID 0x200000ul
/* RFLAGS bits the guest's real flags carry at CPL 3 (and sigreturn loads): CF PF AF ZF SF DF OF AC, fixed bit 1 */
#define F_REAL 0x40cd7ul
/* kept by the runner: what POPF loads at CPL 0 and CPL 3 cannot hold (or sigreturn cannot load) */
#define F_VIRTUAL (F_TF | F_IF | F_IOPL | F_NT | F_ID)

struct guest {
  uint64_t gpr[16]; /* encoding order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
  uint64_t rip, rflags, fs_base, gs_base;
  uint8_t fx[512]; /* FXSAVE image (64-bit layout) */
};

struct result {
  uint32_t end, vector;
  uint64_t error_code, fault_addr;
  int32_t signo, si_code;
  uint64_t steps;
  uint64_t syscall_nr;
  uint64_t warnings; /* bit 0: the FS base could not be loaded, bit 1: the GS base (arch_prctl takes user addresses only) */
};

/* REG_* indexes of the encoding-order GPRs in ucontext gregs */
static const int GREG[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                             REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

static uint8_t *alias;
static uint32_t mapped_flags; /* bit 0: page 0 mapped at address 0 */
static struct guest g __attribute__((aligned(64)));
static struct result res;

/* the run in progress */
static volatile int in_guest;
static uint64_t max_steps, stops[MAX_STOPS];
static uint32_t nstops;
static uint64_t virtual_flags; /* F_VIRTUAL bits of the guest */
static int step_kind;          /* of the instruction being stepped: 0 other, 1 PUSHF, 2 POPF */
static int step_osize;
static uint64_t step_rsp;
static int tf_at_start;
static int fs_switched, fs_failed;

/* the runner's own context, swapped back in when the run ends */
static greg_t host_gregs[NGREG];
static uint8_t host_fx[512];
static uint64_t host_fs;

static inline long raw_syscall2(long nr, long a, long b) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return ret;
}
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

static void die(const char *msg) {
  (void)!write(2, msg, strlen(msg));
  _exit(3);
}

static int guest_readable(uint64_t addr, uint64_t len) { return addr < MEM_SIZE && len <= MEM_SIZE - addr; }

static uint64_t load_le(uint64_t addr, int size) {
  uint64_t v = 0;
  memcpy(&v, alias + addr, size);
  return v;
}

/* PUSHF/POPF at `rip`, after legacy and REX prefixes; their operand size (16 with 0x66, unless REX.W). */
static void classify(uint64_t rip) {
  step_kind = 0;
  step_osize = 8;
  int rexw = 0, o16 = 0;
  for (int i = 0; i < 15 && guest_readable(rip + i, 1); i++) {
    uint8_t b = alias[rip + i];
    if (b == 0x66) o16 = 1;
    else if (b == 0x67 || b == 0xf2 || b == 0xf3 || b == 0xf0 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65) rexw = 0;
    else if ((b & 0xf0) == 0x40) { rexw = (b & 8) != 0; continue; }
    else {
      if (b == 0x9c) step_kind = 1;
      if (b == 0x9d) step_kind = 2;
      step_osize = rexw ? 8 : o16 ? 2 : 8;
      return;
    }
    rexw = 0; /* a REX prefix counts only right before the opcode */
  }
}

static void copy_fx(ucontext_t *uc, uint8_t *to_save, const uint8_t *to_load) {
  uint8_t *fx = (uint8_t *)uc->uc_mcontext.fpregs;
  if (!fx) return;
  if (to_save) memcpy(to_save, fx, 512);
  if (to_load) {
    memcpy(fx, to_load, 512);
    /* an XSAVE frame restores only the components its header marks in use: mark x87 and SSE */
    uint32_t magic;
    memcpy(&magic, fx + 464, 4);
    if (magic == 0x46505853u /* FP_XSTATE_MAGIC1 */) fx[512] |= 3;
  }
}

static void prepare_step(greg_t *r) {
  classify((uint64_t)r[REG_RIP]);
  step_rsp = (uint64_t)r[REG_RSP];
  tf_at_start = (virtual_flags & F_TF) != 0;
  r[REG_EFL] |= F_TF;
}

static void enter_guest(ucontext_t *uc) {
  greg_t *r = uc->uc_mcontext.gregs;
  memcpy(host_gregs, r, sizeof host_gregs);
  copy_fx(uc, host_fx, g.fx);
  for (int i = 0; i < 16; i++) r[GREG[i]] = (greg_t)g.gpr[i];
  r[REG_RIP] = (greg_t)g.rip;
  r[REG_EFL] = (greg_t)((g.rflags & F_REAL) | 2);
  virtual_flags = g.rflags & F_VIRTUAL;
  prepare_step(r);
  in_guest = 1;
  fs_switched = fs_failed = 0;
  if (g.fs_base != host_fs) {
    fs_switched = raw_syscall2(SYS_arch_prctl, ARCH_SET_FS, (long)g.fs_base) == 0;
    fs_failed = !fs_switched;
  }
}

/* Back to the runner: the guest's context into `g`, the runner's into the frame. */
static void finish(ucontext_t *uc, uint32_t end) {
  greg_t *r = uc->uc_mcontext.gregs;
  uint64_t fs = 0;
  raw_syscall2(SYS_arch_prctl, ARCH_GET_FS, (long)&fs);
  if (fs != host_fs) raw_syscall2(SYS_arch_prctl, ARCH_SET_FS, (long)host_fs);
  /* unless the guest's own could not be loaded: then it keeps the value it asked for (and the reply says so) */
  if (!fs_failed) g.fs_base = fs;
  else res.warnings |= 1;
  for (int i = 0; i < 16; i++) g.gpr[i] = (uint64_t)r[GREG[i]];
  g.rip = (uint64_t)r[REG_RIP];
  g.rflags = ((uint64_t)r[REG_EFL] & F_REAL) | virtual_flags | 2;
  copy_fx(uc, g.fx, host_fx);
  memcpy(r, host_gregs, sizeof host_gregs);
  res.end = end;
  in_guest = 0;
}

/* After a single step: what PUSHF stored and POPF loaded, as the test machine (CPL 0) has them. */
static void after_step(greg_t *r) {
  uint64_t mask = step_osize == 2 ? 0xffff : ~0ul;
  if (step_kind == 1) {
    uint64_t at = (uint64_t)r[REG_RSP];
    if (guest_readable(at, step_osize)) {
      uint64_t v = load_le(at, step_osize);
      v = (v & ~(F_VIRTUAL & mask)) | (virtual_flags & mask);
      memcpy(alias + at, &v, step_osize);
    }
  } else if (step_kind == 2 && guest_readable(step_rsp, step_osize)) {
    uint64_t v = load_le(step_rsp, step_osize);
    virtual_flags = (virtual_flags & ~(F_VIRTUAL & mask)) | (v & F_VIRTUAL & mask);
  }
}

static int at_stop(uint64_t rip) {
  for (uint32_t i = 0; i < nstops; i++)
    if (stops[i] == rip) return 1;
  return 0;
}

static void on_signal(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = ucv;
  greg_t *r = uc->uc_mcontext.gregs;
  if (!in_guest) {
    if (sig == SIGUSR1) {
      enter_guest(uc);
      return;
    }
    die("host-runner: fault in the runner itself\n");
  }
  res.steps++;
  if (sig == SIGTRAP && si->si_code == TRAP_TRACE) {
    after_step(r);
    if (tf_at_start) {
      /* the guest's own TF: the #DB trap after the instruction (SDM Vol. 3 §17.3.1.4) */
      res.vector = 1;
      res.error_code = 0;
      res.fault_addr = 0;
      res.signo = 0;
      finish(uc, END_EXCEPTION);
      return;
    }
    if (res.steps >= max_steps) {
      finish(uc, END_BUDGET);
      return;
    }
    if (at_stop((uint64_t)r[REG_RIP])) {
      finish(uc, END_STOP);
      return;
    }
    prepare_step(r);
    return;
  }
  res.signo = sig;
  res.si_code = si->si_code;
  if (sig == SIGSYS) {
    res.syscall_nr = (uint64_t)si->si_syscall;
    res.fault_addr = (uint64_t)si->si_call_addr;
    finish(uc, END_SYSCALL);
    return;
  }
  res.vector = (uint32_t)r[REG_TRAPNO];
  res.error_code = (uint64_t)r[REG_ERR];
  res.fault_addr = (uint64_t)si->si_addr;
  finish(uc, END_EXCEPTION);
}

/* ---- protocol ---- */

static void read_full(void *buf, size_t n) {
  uint8_t *p = buf;
  while (n) {
    ssize_t k = read(0, p, n);
    if (k == 0) _exit(0); /* the driver went away */
    if (k < 0) {
      if (errno == EINTR) continue;
      die("host-runner: read failed\n");
    }
    p += k;
    n -= (size_t)k;
  }
}

static void write_full(const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n) {
    ssize_t k = write(1, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      _exit(0);
    }
    p += k;
    n -= (size_t)k;
  }
}

static void reply(uint32_t status, const void *payload, uint32_t len) {
  uint32_t h[2] = {status, len};
  write_full(h, sizeof h);
  if (len) write_full(payload, len);
}

static uint8_t buf[MEM_SIZE + 64];

static void run(void) {
  memset(&res, 0, sizeof res);
  if (max_steps == 0) {
    res.end = END_BUDGET;
    return;
  }
  int gs_failed = raw_syscall2(SYS_arch_prctl, ARCH_SET_GS, (long)g.gs_base) != 0;
  syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1);
  uint64_t now = 0;
  raw_syscall2(SYS_arch_prctl, ARCH_GET_GS, (long)&now);
  if (gs_failed) res.warnings |= 2;
  else g.gs_base = now;
}

static void serve(void) {
  for (;;) {
    uint32_t h[2];
    read_full(h, sizeof h);
    uint32_t op = h[0], len = h[1];
    if (len > sizeof buf) die("host-runner: request too long\n");
    read_full(buf, len);
    switch (op) {
    case OP_WRITE: {
      uint64_t addr;
      memcpy(&addr, buf, 8);
      uint64_t n = len - 8;
      if (len < 8 || !guest_readable(addr, n)) { reply(1, 0, 0); break; }
      memcpy(alias + addr, buf + 8, n);
      reply(0, 0, 0);
      break;
    }
    case OP_READ: {
      uint64_t addr;
      uint32_t n;
      memcpy(&addr, buf, 8);
      memcpy(&n, buf + 8, 4);
      if (!guest_readable(addr, n)) { reply(1, 0, 0); break; }
      reply(0, alias + addr, n);
      break;
    }
    case OP_SET_CONTEXT:
      if (len != sizeof g) { reply(1, 0, 0); break; }
      memcpy(&g, buf, sizeof g);
      reply(0, 0, 0);
      break;
    case OP_GET_CONTEXT:
      reply(0, &g, sizeof g);
      break;
    case OP_RUN: {
      uint32_t n;
      memcpy(&max_steps, buf, 8);
      memcpy(&n, buf + 8, 4);
      if (n > MAX_STOPS || len != 16 + 8 * n) { reply(1, 0, 0); break; }
      nstops = n;
      memcpy(stops, buf + 16, 8 * n);
      run();
      memcpy(buf, &res, sizeof res);
      memcpy(buf + sizeof res, &g, sizeof g);
      reply(0, buf, sizeof res + sizeof g);
      break;
    }
    case OP_CPUID: {
      uint32_t leaf, sub, out[4];
      memcpy(&leaf, buf, 4);
      memcpy(&sub, buf + 4, 4);
      __cpuid_count(leaf, sub, out[0], out[1], out[2], out[3]);
      reply(0, out, sizeof out);
      break;
    }
    default:
      reply(2, 0, 0);
    }
  }
}

/* ---- set-up ---- */

/* populated, so that a protection fault reports P=1 as the test machine's present pages do */
static int map_view(int fd, uint64_t addr, uint64_t len, int prot) {
  void *p = mmap((void *)addr, len, prot, MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_POPULATE, fd, (off_t)addr);
  return p == (void *)addr ? 0 : errno ? errno : EEXIST;
}

static void install_seccomp(void) {
  static const int allowed[] = {SYS_read, SYS_write, SYS_rt_sigreturn, SYS_arch_prctl, SYS_exit, SYS_exit_group,
                                SYS_tgkill, SYS_getpid, SYS_gettid, SYS_rt_sigprocmask};
  struct sock_filter f[64];
  int n = 0;
  size_t ip = offsetof(struct seccomp_data, instruction_pointer);
  /* a call from guest addresses (instruction_pointer < GUEST_LIMIT) traps */
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip + 4);
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip);
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, GUEST_LIMIT, 1, 0);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  int count = (int)(sizeof allowed / sizeof allowed[0]);
  for (int i = 0; i < count; i++)
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)allowed[i], (uint8_t)(count - i), 0);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {(unsigned short)n, f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) die("host-runner: cannot install the seccomp filter\n");
}

int main(void) {
  int fd = memfd_create("difftest-guest", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, MEM_SIZE)) die("host-runner: memfd_create failed\n");
  alias = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (alias == MAP_FAILED) die("host-runner: cannot map the guest memory\n");
  /* the case's pages first: without them the runner is of no use, and the reply says why */
  int err = map_view(fd, 0x8000, 0x8000, PROT_READ | PROT_WRITE);
  if (!err) err = map_view(fd, 0x10000, 0x10000, PROT_READ | PROT_WRITE | PROT_EXEC);
  if (!err) err = map_view(fd, 0x20000, 0x10000, PROT_READ | PROT_WRITE);
  if (!err) err = map_view(fd, 0x1000, 0x5000, PROT_READ);
  if (!err) err = map_view(fd, 0x6000, 0x1000, PROT_READ | PROT_EXEC);
  if (!err && map_view(fd, 0, 0x1000, PROT_READ) == 0) mapped_flags |= 1;

  stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16, .ss_flags = 0};
  if (!ss.ss_sp || sigaltstack(&ss, NULL)) die("host-runner: sigaltstack failed\n");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  int sigs[] = {SIGUSR1, SIGTRAP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (sigaction(sigs[i], &sa, NULL)) die("host-runner: sigaction failed\n");
  raw_syscall2(SYS_arch_prctl, ARCH_GET_FS, (long)&host_fs);
  if (!err) install_seccomp();

  /* hello: version, mapped pages, errno of the failed mapping (0: none) */
  uint32_t hello[3] = {PROTOCOL_VERSION, mapped_flags, (uint32_t)err};
  reply(err ? 1 : 0, hello, sizeof hello);
  if (err) return 1;
  serve();
  return 0;
}
