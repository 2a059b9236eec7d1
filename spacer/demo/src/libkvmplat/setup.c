/* C entry from multiboot.S: console, traps, memory map, CPU probe, command
 * line, TLS, then ukboot. */
#include <uk_plat.h>
#include <uk_init.h>
#include <io.h>

#define MSR_FS_BASE 0xC0000100
#define MB_INFO_CMDLINE (1u << 2)
/* Must match the ALIGN() of .tdata/.tbss in link64.lds (the PT_TLS alignment). */
#define TLS_ALIGN 64
#define TLS_AREA_SIZE 4096
#define ISA_DEBUG_EXIT 0x501

struct multiboot_info {
	unsigned int flags;
	unsigned int mem_lower;
	unsigned int mem_upper;
	unsigned int boot_device;
	unsigned int cmdline;
};

/* Bounds from link64.lds. */
extern char _tls_start[], _etdata[], _tls_end[];

void _kvmplat_serial_init(void);
void _kvmplat_idt_init(void);
void _kvmplat_memmap_init(unsigned long mbi_addr);

static const char *cmdline = "";
/* Read back through %fs after setup; also keeps .tdata non-empty in every image. */
__thread unsigned long ukplat_tls_canary = 0x5350414345520a00UL;
static char tls_area[TLS_AREA_SIZE] __attribute__((aligned(TLS_ALIGN)));

UK_LIBINFO("kvmplat", "0.17.0");

unsigned long ukplat_tls_size(void)
{
	unsigned long size = (unsigned long)(_tls_end - _tls_start);

	return (size + TLS_ALIGN - 1) & ~(unsigned long)(TLS_ALIGN - 1);
}

/*
 * x86-64 TLS variant II: the block sits just below the thread pointer,
 * .tdata copied, .tbss zeroed, and %fs:0 holds the thread pointer itself.
 */
static void tls_setup(void)
{
	unsigned long size = ukplat_tls_size();
	unsigned long tdata = (unsigned long)(_etdata - _tls_start);
	unsigned long i;
	char *tp;

	if (size + sizeof(void *) > TLS_AREA_SIZE)
		ukplat_halt();
	for (i = 0; i < size; i++)
		tls_area[i] = i < tdata ? _tls_start[i] : 0;
	tp = tls_area + size;
	*(char **)tp = tp;
	wrmsr(MSR_FS_BASE, (unsigned long)tp);
	if (ukplat_tls_canary != 0x5350414345520a00UL) {
		ukplat_coutk("kvmplat: TLS setup failed\n", 26);
		ukplat_halt();
	}
}

const char *ukplat_cmdline(void)
{
	return cmdline;
}

void _kvmplat_start(unsigned long mbi_addr)
{
	const struct multiboot_info *mbi = (const struct multiboot_info *)mbi_addr;

	_kvmplat_serial_init();
	_kvmplat_idt_init();
	_kvmplat_memmap_init(mbi_addr);
	ukplat_cpu();
	if (mbi && (mbi->flags & MB_INFO_CMDLINE))
		cmdline = (const char *)(unsigned long)mbi->cmdline;
	tls_setup();
	ukboot_entry();
}

void ukplat_halt(void)
{
	for (;;)
		__asm__ __volatile__("cli; hlt");
}

/* QEMU's isa-debug-exit turns this write into exit status (code << 1) | 1. */
void ukplat_terminate(int code)
{
	outl(ISA_DEBUG_EXIT, (unsigned int)code);
	ukplat_halt();
}
