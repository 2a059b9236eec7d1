/* x86 port I/O, MSRs and control registers. */
#ifndef KVMPLAT_IO_H
#define KVMPLAT_IO_H

static inline void outb(unsigned short port, unsigned char v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline unsigned char inb(unsigned short port)
{
	unsigned char v;

	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(unsigned short port, unsigned int v)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline void wrmsr(unsigned int msr, unsigned long v)
{
	__asm__ __volatile__("wrmsr" : : "c"(msr), "a"((unsigned int)v),
			     "d"((unsigned int)(v >> 32)));
}

static inline unsigned long rdmsr(unsigned int msr)
{
	unsigned int lo, hi;

	__asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (unsigned long)hi << 32 | lo;
}

static inline unsigned long read_cr(int n)
{
	unsigned long v = 0;

	switch (n) {
	case 0:
		__asm__ __volatile__("mov %%cr0, %0" : "=r"(v));
		break;
	case 2:
		__asm__ __volatile__("mov %%cr2, %0" : "=r"(v));
		break;
	case 3:
		__asm__ __volatile__("mov %%cr3, %0" : "=r"(v));
		break;
	case 4:
		__asm__ __volatile__("mov %%cr4, %0" : "=r"(v));
		break;
	}
	return v;
}

static inline void cpuid(unsigned int leaf, unsigned int sub, unsigned int r[4])
{
	__asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			     : "a"(leaf), "c"(sub));
}

#endif
