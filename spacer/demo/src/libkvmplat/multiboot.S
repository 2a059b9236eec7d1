/* Multiboot v1 header and 32-bit entry: identity paging, long mode, then C. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003
#define CR4_PAE 0x20
#define CR4_OSFXSR 0x200
#define CR4_OSXMMEXCPT 0x400
#define EFER_MSR 0xC0000080
#define EFER_LME 0x100
#define CR0_PE 0x1
#define CR0_MP 0x2
#define CR0_EM 0x4
#define CR0_PG 0x80000000

	.section .data.boot, "aw"
	.align 4
	.globl _multiboot_header
_multiboot_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	/* Flat GDT: null, 64-bit code, data. */
	.align 16
gdt64:
	.quad 0
	.quad 0x00AF9A000000FFFF
	.quad 0x00CF92000000FFFF
gdt64_end:
gdt64_ptr:
	.word gdt64_end - gdt64 - 1
	.long gdt64

	.section .text.boot, "ax"
	.code32
	.globl _multiboot_entry
_multiboot_entry:
	cli
	movl $boot_stack_top, %esp
	movl %ebx, multiboot_info
	movl %cr4, %eax
	orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $EFER_MSR, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	andl $~CR0_EM, %eax
	orl $(CR0_PG | CR0_MP | CR0_PE), %eax
	movl %eax, %cr0
	lgdt gdt64_ptr
	ljmp $0x08, $_start64

	.code64
_start64:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movq $boot_stack_top, %rsp
	xorq %rbp, %rbp
	movl multiboot_info, %edi
	call _kvmplat_start
1:	cli
	hlt
	jmp 1b

	/* Static identity map of the first GiB with 2 MiB pages. */
	.data
	.align 4096
pml4:
	.quad pdpt + 0x3
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x3
	.fill 511, 8, 0
pd:
	.set i, 0
	.rept 512
	.quad (i << 21) + 0x83
	.set i, i + 1
	.endr

	.globl multiboot_info
	.align 8
multiboot_info:
	.quad 0

	.bss
	.align 16
boot_stack:
	.skip 16384
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
