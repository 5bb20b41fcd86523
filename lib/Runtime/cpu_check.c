/*===- cpu_check.c - does this CPU run the compiled model? ----------------===*
 *
 * Part of qat-mlir. qat-compile compiles this file beside every object,
 * library and program it emits, for the baseline of the target's
 * architecture (x86-64 or Armv8-A), so that it runs on any CPU of it:
 *
 *   const char *NAME_missing_cpu_feature(void);
 *     NULL when this CPU has every feature the model's code was compiled
 *     for, else the name of the first one it lacks (LLVM's names: avx2,
 *     avx512vnni, dotprod, ...);
 *   const char *NAME_best_target(void);
 *     the qat-compile target that this CPU runs best.
 *
 * The answer is computed once, when the program or library is loaded. A
 * shared library also says so on stderr then. It reads
 * CPUID and XGETBV (x86: the OS must save the AVX and AVX-512 registers
 * too) or the kernel's HWCAP bits (AArch64) itself, so it needs only
 * libc. Macros from qat-compile:
 *   QAT_CHECK_PREFIX   the model's symbol prefix
 *   QAT_REQUIRED       "avx2,fma,bmi2": the features the code needs
 *   QAT_TARGETS        "name=features;..." this architecture's targets,
 *                      best first: where the suggestion comes from
 *
 *===----------------------------------------------------------------------===*/

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if !defined(QAT_CHECK_PREFIX) || !defined(QAT_REQUIRED) ||                    \
    !defined(QAT_TARGETS)
#error "qat-compile defines QAT_CHECK_PREFIX, QAT_REQUIRED and QAT_TARGETS"
#endif

#define QAT_JOIN2(a, b) a##b
#define QAT_JOIN(a, b) QAT_JOIN2(a, b)
#define QAT_EXPORT(suffix) QAT_JOIN(QAT_CHECK_PREFIX, suffix)
#define QAT_STRINGIFY2(x) #x
#define QAT_STRINGIFY(x) QAT_STRINGIFY2(x)

#if defined(__x86_64__)
#include <cpuid.h>

/* Where CPUID reports each feature: leaf, subleaf, register, bit. */
enum { EAX, EBX, ECX, EDX };
struct feature {
  const char *name;
  unsigned leaf, subleaf, reg, bit;
  int avx512; /* needs the OS to save the AVX-512 state */
};
static const struct feature features[] = {
    {"sse4.2", 1, 0, ECX, 20, 0},   {"popcnt", 1, 0, ECX, 23, 0},
    {"fma", 1, 0, ECX, 12, 0},      {"movbe", 1, 0, ECX, 22, 0},
    {"xsave", 1, 0, ECX, 26, 0},    {"avx", 1, 0, ECX, 28, 0},
    {"f16c", 1, 0, ECX, 29, 0},     {"bmi", 7, 0, EBX, 3, 0},
    {"avx2", 7, 0, EBX, 5, 0},      {"bmi2", 7, 0, EBX, 8, 0},
    {"avx512f", 7, 0, EBX, 16, 1},  {"avx512dq", 7, 0, EBX, 17, 1},
    {"avx512cd", 7, 0, EBX, 28, 1}, {"avx512bw", 7, 0, EBX, 30, 1},
    {"avx512vl", 7, 0, EBX, 31, 1}, {"avx512vnni", 7, 0, ECX, 11, 1},
    {"avxvnni", 7, 1, EAX, 4, 0},   {"lzcnt", 0x80000001, 0, ECX, 5, 0},
};

static int has_feature(const char *name, size_t length) {
  for (size_t i = 0; i < sizeof features / sizeof features[0]; ++i) {
    const struct feature *f = &features[i];
    if (strlen(f->name) != length || strncmp(f->name, name, length) != 0)
      continue;
    unsigned regs[4] = {0, 0, 0, 0};
    unsigned top = __get_cpuid_max(f->leaf & 0x80000000u, NULL);
    if (top < f->leaf ||
        !__get_cpuid_count(f->leaf, f->subleaf, &regs[EAX], &regs[EBX],
                           &regs[ECX], &regs[EDX]) ||
        !(regs[f->reg] >> f->bit & 1))
      return 0;
    int vex = f->avx512 || strcmp(f->name, "avx") == 0 ||
              strcmp(f->name, "avx2") == 0 || strcmp(f->name, "fma") == 0 ||
              strcmp(f->name, "f16c") == 0 || strcmp(f->name, "avxvnni") == 0;
    if (!vex)
      return 1;
    /* The OS saves the registers: OSXSAVE, then XCR0's SSE and AVX bits
     * (and opmask, ZMM0-15 upper halves and ZMM16-31 for AVX-512). */
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    if (!(c >> 27 & 1))
      return 0;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    unsigned want = f->avx512 ? 0xe6u : 0x6u;
    return (lo & want) == want;
  }
  return 0; /* a name this check does not know: do not claim it */
}

#elif defined(__aarch64__)
#include <sys/auxv.h>

static int has_feature(const char *name, size_t length) {
  unsigned long hwcap = getauxval(AT_HWCAP);
  if (length == 4 && strncmp(name, "neon", 4) == 0)
    return (hwcap >> 1 & 1) != 0; /* HWCAP_ASIMD */
  if (length == 7 && strncmp(name, "dotprod", 7) == 0)
    return (hwcap >> 20 & 1) != 0; /* HWCAP_ASIMDDP */
  /* Architecture versions (v8.2a) add no instruction the code uses
   * beyond those above. */
  if (length > 1 && name[0] == 'v' && name[1] >= '8' && name[1] <= '9')
    return 1;
  return 0;
}

#else
#error "qat-compile targets x86-64 and AArch64"
#endif

/* The first feature of the comma-separated `list` this CPU lacks, as a
 * string in `buffer`; NULL when it has them all. */
static const char *first_missing(const char *list, char *buffer, size_t size) {
  while (*list) {
    const char *end = strchr(list, ',');
    size_t length = end ? (size_t)(end - list) : strlen(list);
    if (length > 0 && !has_feature(list, length)) {
      if (length >= size)
        length = size - 1;
      memcpy(buffer, list, length);
      buffer[length] = 0;
      return buffer;
    }
    list += length + (end ? 1 : 0);
  }
  return NULL;
}

/* Checked once: CPUID leaves the process under a hypervisor (a VM exit per
 * instruction), and the header's run function asks on every call. Threads
 * racing on the first call compute the same answer. */
const char *QAT_EXPORT(_missing_cpu_feature)(void) {
  static char missing[32];
  static const char *answer;
  static int checked;
  if (!__atomic_load_n(&checked, __ATOMIC_ACQUIRE)) {
    static char scratch[32];
    const char *found = first_missing(QAT_REQUIRED, scratch, sizeof scratch);
    if (found) {
      memcpy(missing, scratch, sizeof missing);
      answer = missing;
    }
    __atomic_store_n(&checked, 1, __ATOMIC_RELEASE);
  }
  return answer;
}

/* Answered at load time, before any thread of the program can ask. */
__attribute__((constructor)) static void check_at_load(void) {
  (void)QAT_EXPORT(_missing_cpu_feature)();
}

const char *QAT_EXPORT(_best_target)(void) {
  static char best[64];
  char features[256], scratch[32];
  const char *target = QAT_TARGETS;
  while (*target) {
    const char *end = strchr(target, ';');
    size_t length = end ? (size_t)(end - target) : strlen(target);
    const char *equals = memchr(target, '=', length);
    size_t name_length = equals ? (size_t)(equals - target) : length;
    size_t list_length = equals ? length - name_length - 1 : 0;
    if (name_length < sizeof best && list_length < sizeof features) {
      memcpy(features, equals ? equals + 1 : target, list_length);
      features[list_length] = 0;
      if (!first_missing(features, scratch, sizeof scratch)) {
        memcpy(best, target, name_length);
        best[name_length] = 0;
        return best;
      }
    }
    target += length + (end ? 1 : 0);
  }
  return "none";
}

#ifdef QAT_CHECK_ON_LOAD
/* A library says at once why its calls would fail, rather than dying of
 * an illegal instruction later. */
__attribute__((constructor)) static void check_on_load(void) {
  const char *missing = QAT_EXPORT(_missing_cpu_feature)();
  if (missing)
    fprintf(stderr,
            "qat-mlir model '%s': compiled for a CPU with '%s', which this "
            "CPU lacks; its run function returns -1. Compile it with "
            "qat-compile --target=%s (or --target=host on this machine).\n",
            QAT_STRINGIFY(QAT_CHECK_PREFIX), missing,
            QAT_EXPORT(_best_target)());
}
#endif
