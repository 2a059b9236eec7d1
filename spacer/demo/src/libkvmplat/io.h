/* x86 port I/O. */
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

#endif
