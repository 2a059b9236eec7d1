/* Platform interface of libkvmplat. */
#ifndef UK_PLAT_H
#define UK_PLAT_H

void ukplat_coutk(const char *buf, unsigned int len);
void ukplat_terminate(int code) __attribute__((noreturn));
void ukplat_halt(void) __attribute__((noreturn));
const char *ukplat_cmdline(void);
unsigned long ukplat_tls_size(void);
int ukboot_inits_run(void);
void ukboot_entry(void) __attribute__((noreturn));

/* Console (console.c): COM1 16550 UART with an optional line discipline. */
#define UKPLAT_CONS_CRLF 0x1	/* translate "\n" to "\r\n" on output */
#define UKPLAT_CONS_ECHO 0x2	/* echo input characters in ukplat_cink_line */
int ukplat_cons_mode(int set, int clear);
int ukplat_cons_uart_type(void);
const char *ukplat_cons_uart_name(void);
int ukplat_cink(char *buf, unsigned int max);
int ukplat_cink_line(char *buf, unsigned int max);
unsigned long ukplat_cons_bytes_out(void);

/* CPU identification (cpu.c). */
struct ukplat_cpuinfo {
	char vendor[13];
	char brand[49];
	unsigned int family, model, stepping;
	unsigned int max_leaf, max_ext_leaf;
	unsigned int features[4];	/* 1.edx, 1.ecx, 7.ebx, 0x80000001.edx */
	unsigned int phys_bits, virt_bits;
	unsigned int cache_line;
};
const struct ukplat_cpuinfo *ukplat_cpu(void);
int ukplat_cpu_has(const char *feature);
int ukplat_cpu_features_str(char *buf, unsigned long size);

/* Memory regions from the multiboot information (memmap.c). */
#define UKPLAT_MEM_FREE 1
#define UKPLAT_MEM_RESERVED 2
#define UKPLAT_MEM_ACPI 3
#define UKPLAT_MEM_NVS 4
#define UKPLAT_MEM_BAD 5
#define UKPLAT_MEM_KERNEL 16
#define UKPLAT_MEM_MODULE 17
struct ukplat_memregion {
	unsigned long base, len;
	int type;
	const char *name;
};
int ukplat_memregion_count(void);
const struct ukplat_memregion *ukplat_memregion_get(int i);
unsigned long ukplat_mem_total(int type);
const struct ukplat_memregion *ukplat_mem_largest_free(void);
const char *ukplat_memtype_name(int type);
const char *ukplat_bootloader_name(void);
int ukplat_memmap_str(char *buf, unsigned long size);

/* Time (time.c): PIT and TSC. */
unsigned long ukplat_rdtsc(void);
unsigned long ukplat_tsc_hz(void);
unsigned long ukplat_monotonic_ns(void);
void ukplat_udelay(unsigned long usec);

/* Traps, panics and backtraces (traps.c, panic.c). */
struct ukplat_regs {
	unsigned long r15, r14, r13, r12, r11, r10, r9, r8;
	unsigned long rbp, rdi, rsi, rdx, rcx, rbx, rax;
	unsigned long vector, error;
	unsigned long rip, cs, rflags, rsp, ss;
};
void ukplat_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
int ukplat_backtrace(unsigned long *pcs, int max);
void ukplat_regs_dump(const struct ukplat_regs *regs);
const char *ukplat_trap_name(unsigned long vector);
unsigned long ukplat_traps_taken(void);
unsigned long ukplat_virt_to_phys(unsigned long va);

#endif
