/* Serial console on COM1 (0x3f8), 115200 8N1: UART type detection, FIFO
 * setup, an output line discipline (optional CRLF) and line input with
 * backspace editing. */
#include <uk_plat.h>
#include <io.h>

#define COM1 0x3f8
#define UART_THR 0	/* transmit holding (write) */
#define UART_RBR 0	/* receive buffer (read) */
#define UART_IER 1
#define UART_IIR 2	/* interrupt identification (read) */
#define UART_FCR 2	/* FIFO control (write) */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define UART_CLOCK 115200

enum { UART_NONE, UART_8250, UART_16450, UART_16550, UART_16550A, UART_16750 };

static const char *const uart_names[] = {
	"none", "8250", "16450", "16550", "16550A", "16750",
};

static const unsigned int baud_rates[] = {
	115200, 57600, 38400, 19200, 9600, 4800, 2400, 1200, 300,
};

static int uart_type;
static int cons_mode;
static unsigned long bytes_out;
static unsigned int tx_fifo_room = 1, tx_fifo_size = 1;

static void uart_set_baud(unsigned int baud)
{
	unsigned int i, div = 1;

	for (i = 0; i < sizeof(baud_rates) / sizeof(baud_rates[0]); i++)
		if (baud_rates[i] == baud)
			div = UART_CLOCK / baud;
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + 0, (unsigned char)div);
	outb(COM1 + 1, (unsigned char)(div >> 8));
	outb(COM1 + UART_LCR, LCR_8N1);
}

/* The classic probe: scratch register, then FIFO bits in IIR. */
static int uart_detect(void)
{
	unsigned char iir;

	outb(COM1 + UART_SCR, 0x5a);
	if (inb(COM1 + UART_SCR) != 0x5a)
		return UART_8250;
	outb(COM1 + UART_SCR, 0xa5);
	if (inb(COM1 + UART_SCR) != 0xa5)
		return UART_8250;
	outb(COM1 + UART_FCR, 0xe7);
	iir = inb(COM1 + UART_IIR);
	if (!(iir & 0x80))
		return UART_16450;
	if (!(iir & 0x40))
		return UART_16550;
	return iir & 0x20 ? UART_16750 : UART_16550A;
}

void _kvmplat_serial_init(void)
{
	outb(COM1 + UART_IER, 0x00);
	uart_set_baud(115200);
	uart_type = uart_detect();
	/* Enable and clear the FIFOs, 14-byte receive trigger. */
	outb(COM1 + UART_FCR, 0xc7);
	outb(COM1 + UART_MCR, 0x0b);
	tx_fifo_size = uart_type >= UART_16550A ? 16 : 1;
	tx_fifo_room = 0;
}

int ukplat_cons_uart_type(void)
{
	return uart_type;
}

const char *ukplat_cons_uart_name(void)
{
	return uart_names[uart_type];
}

int ukplat_cons_mode(int set, int clear)
{
	int old = cons_mode;

	cons_mode = (cons_mode | set) & ~clear;
	return old;
}

/* With a FIFO, one THRE poll frees a whole FIFO's worth of bytes. */
static void serial_putc(char c)
{
	if (!tx_fifo_room) {
		while (!(inb(COM1 + UART_LSR) & LSR_THRE))
			;
		tx_fifo_room = tx_fifo_size;
	}
	outb(COM1 + UART_THR, (unsigned char)c);
	tx_fifo_room--;
	bytes_out++;
}

void ukplat_coutk(const char *buf, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\n' && (cons_mode & UKPLAT_CONS_CRLF))
			serial_putc('\r');
		serial_putc(buf[i]);
	}
}

unsigned long ukplat_cons_bytes_out(void)
{
	return bytes_out;
}

/* Non-blocking read of what the receive FIFO holds. */
int ukplat_cink(char *buf, unsigned int max)
{
	unsigned int n = 0;

	while (n < max && (inb(COM1 + UART_LSR) & LSR_DR))
		buf[n++] = (char)inb(COM1 + UART_RBR);
	return (int)n;
}

/* Blocking line input: backspace/DEL erase, ^U kills the line, CR or LF
 * ends it. Returns the length without the terminator. */
int ukplat_cink_line(char *buf, unsigned int max)
{
	unsigned int n = 0;
	char c;

	if (!max)
		return 0;
	for (;;) {
		while (!(inb(COM1 + UART_LSR) & LSR_DR))
			__asm__ __volatile__("pause");
		c = (char)inb(COM1 + UART_RBR);
		if (c == '\r' || c == '\n') {
			if (cons_mode & UKPLAT_CONS_ECHO)
				ukplat_coutk("\n", 1);
			break;
		}
		if (c == '\b' || c == 0x7f) {
			if (n) {
				n--;
				if (cons_mode & UKPLAT_CONS_ECHO)
					ukplat_coutk("\b \b", 3);
			}
			continue;
		}
		if (c == 0x15) {
			while (n) {
				n--;
				if (cons_mode & UKPLAT_CONS_ECHO)
					ukplat_coutk("\b \b", 3);
			}
			continue;
		}
		if ((unsigned char)c < 0x20 || n + 1 >= max)
			continue;
		buf[n++] = c;
		if (cons_mode & UKPLAT_CONS_ECHO)
			ukplat_coutk(&c, 1);
	}
	buf[n] = '\0';
	return (int)n;
}
