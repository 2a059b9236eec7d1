/* Serial console on COM1 (0x3f8), 115200 8N1. */
#include <uk_plat.h>
#include <io.h>

#define COM1 0x3f8

void _kvmplat_serial_init(void)
{
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x80);
	outb(COM1 + 0, 0x01);
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);
	outb(COM1 + 2, 0xc7);
	outb(COM1 + 4, 0x0b);
}

static void serial_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (unsigned char)c);
}

void ukplat_coutk(const char *buf, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		serial_putc(buf[i]);
}
