/* IDT for the CPU exceptions: a fault prints its name, the registers and a
 * backtrace instead of triple-faulting the guest. Breakpoints resume. */
#include <uk_plat.h>
#include <io.h>
#include <stdio.h>

#define NVECTORS 32
#define STUB_SIZE 16
#define KERNEL_CS 0x08
#define GATE_INTR 0x8e

struct idt_entry {
	unsigned short off_lo, sel;
	unsigned char ist, type;
	unsigned short off_mid;
	unsigned int off_hi, zero;
} __attribute__((packed));

struct idt_ptr {
	unsigned short limit;
	unsigned long base;
} __attribute__((packed));

extern char _kvmplat_trap_stubs[];

static struct idt_entry idt[NVECTORS] __attribute__((aligned(16)));
static unsigned long traps_taken;

static const char trap_names[NVECTORS][24] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
	"invalid opcode", "device not available", "double fault", "coprocessor overrun",
	"invalid TSS", "segment not present", "stack fault", "general protection",
	"page fault", "reserved", "x87 FP error", "alignment check", "machine check",
	"SIMD FP error", "virtualization", "control protection", "reserved", "reserved",
	"reserved", "reserved", "reserved", "reserved", "hypervisor injection",
	"VMM communication", "security", "reserved",
};

const char *ukplat_trap_name(unsigned long vector)
{
	return vector < NVECTORS ? trap_names[vector] : "interrupt";
}

unsigned long ukplat_traps_taken(void)
{
	return traps_taken;
}

void _kvmplat_idt_init(void)
{
	struct idt_ptr ptr;
	unsigned long stub;
	int i;

	for (i = 0; i < NVECTORS; i++) {
		stub = (unsigned long)_kvmplat_trap_stubs + (unsigned long)i * STUB_SIZE;
		idt[i].off_lo = (unsigned short)stub;
		idt[i].sel = KERNEL_CS;
		idt[i].ist = 0;
		idt[i].type = GATE_INTR;
		idt[i].off_mid = (unsigned short)(stub >> 16);
		idt[i].off_hi = (unsigned int)(stub >> 32);
		idt[i].zero = 0;
	}
	ptr.limit = sizeof(idt) - 1;
	ptr.base = (unsigned long)idt;
	__asm__ __volatile__("lidt %0" : : "m"(ptr));
}

static void print_page_fault(unsigned long error)
{
	printf("  cr2=%016lx (%s %s, %s mode%s)\n", read_cr(2),
	       error & 1 ? "protection violation on" : "non-present page on",
	       error & 2 ? "write" : error & 16 ? "instruction fetch" : "read",
	       error & 4 ? "user" : "supervisor", error & 8 ? ", reserved bit" : "");
}

void _kvmplat_trap(struct ukplat_regs *regs)
{
	traps_taken++;
	if (regs->vector == 3)
		return;
	printf("kvmplat: %s (#%lu, error %#lx) at rip %016lx\n",
	       ukplat_trap_name(regs->vector), regs->vector, regs->error, regs->rip);
	if (regs->vector == 14)
		print_page_fault(regs->error);
	ukplat_regs_dump(regs);
	ukplat_panic("unhandled exception %lu", regs->vector);
}
