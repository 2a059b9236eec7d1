/* Panic with a message, register dump, frame-pointer backtrace, and a
 * page-table walk for addresses. */
#include <uk_plat.h>
#include <io.h>
#include <stdio.h>
#include <stdarg.h>

#define BACKTRACE_MAX 16
#define PTE_PRESENT 0x1
#define PTE_HUGE 0x80
#define PANIC_EXIT 0x7f

extern char _text[], _etext[], _end[];

static int panicking;

static int text_addr(unsigned long pc)
{
	return pc >= (unsigned long)_text && pc < (unsigned long)_etext;
}

/* Follows saved %rbp links while they point into mapped kernel memory and
 * grow upwards; stops at the first frame that looks wrong. */
int ukplat_backtrace(unsigned long *pcs, int max)
{
	unsigned long *fp, *next;
	int n = 0;

	__asm__ __volatile__("mov %%rbp, %0" : "=r"(fp));
	while (fp && n < max) {
		if ((unsigned long)fp & 7 || (unsigned long)fp < (unsigned long)_text ||
		    (unsigned long)fp >= (unsigned long)_end)
			break;
		if (!text_addr(fp[1]))
			break;
		pcs[n++] = fp[1];
		next = (unsigned long *)fp[0];
		if (next <= fp)
			break;
		fp = next;
	}
	return n;
}

void ukplat_regs_dump(const struct ukplat_regs *r)
{
	printf("  rax=%016lx rbx=%016lx rcx=%016lx\n", r->rax, r->rbx, r->rcx);
	printf("  rdx=%016lx rsi=%016lx rdi=%016lx\n", r->rdx, r->rsi, r->rdi);
	printf("  rbp=%016lx rsp=%016lx r8 =%016lx\n", r->rbp, r->rsp, r->r8);
	printf("  r9 =%016lx r10=%016lx r11=%016lx\n", r->r9, r->r10, r->r11);
	printf("  r12=%016lx r13=%016lx r14=%016lx\n", r->r12, r->r13, r->r14);
	printf("  r15=%016lx rip=%016lx rflags=%08lx\n", r->r15, r->rip, r->rflags);
	printf("  cs=%04lx ss=%04lx cr0=%08lx cr3=%08lx cr4=%08lx\n", r->cs, r->ss,
	       read_cr(0), read_cr(3), read_cr(4));
}

void ukplat_panic(const char *fmt, ...)
{
	unsigned long pcs[BACKTRACE_MAX];
	char msg[160];
	va_list ap;
	int n, i;

	if (panicking++)
		ukplat_terminate(PANIC_EXIT);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("kvmplat: panic: %s\n", msg);
	n = ukplat_backtrace(pcs, BACKTRACE_MAX);
	for (i = 0; i < n; i++)
		printf("  #%d %016lx\n", i, pcs[i]);
	ukplat_terminate(PANIC_EXIT);
}

/* 4-level walk through the live page tables; ~0 when unmapped. */
unsigned long ukplat_virt_to_phys(unsigned long va)
{
	unsigned long table = read_cr(3) & ~0xfffUL, e = 0;
	int level, shift;

	for (level = 4, shift = 39; level >= 1; level--, shift -= 9) {
		e = ((const unsigned long *)table)[(va >> shift) & 511];
		if (!(e & PTE_PRESENT))
			return ~0UL;
		if (level > 1 && level < 4 && (e & PTE_HUGE)) {
			unsigned long mask = (1UL << shift) - 1;

			return (e & 0x000ffffffffff000UL & ~mask) | (va & mask);
		}
		table = e & 0x000ffffffffff000UL;
	}
	return table | (va & 0xfff);
}
