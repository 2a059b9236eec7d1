/* A small vsnprintf: %d %i %u %x %X %s %c %p %%, flags '0' and '-', width,
 * length modifier 'l'. NOLIBC_UPPER_HEX (a configuration option) makes %x
 * print upper-case digits, so the same library differs between builds. */
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <uk_plat.h>
#include <uk_init.h>

#ifdef NOLIBC_UPPER_HEX
static const char x_digits[] = "0123456789ABCDEF";
#else
static const char x_digits[] = "0123456789abcdef";
#endif
static const char upper_digits[] = "0123456789ABCDEF";

UK_LIBINFO("nolibc", "0.17.0");

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, unsigned long v, unsigned int base,
		    const char *digits, int neg, int width, char pad)
{
	char tmp[24];
	int n = 0, i;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (i = n; i < width; i++)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	const char *s;
	unsigned long u;
	long d;
	int width, lng, left;
	char pad;
	size_t start, k;

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		pad = ' ';
		left = 0;
		width = 0;
		lng = 0;
		for (;; fmt++) {
			if (*fmt == '0')
				pad = '0';
			else if (*fmt == '-')
				left = 1;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l')
			lng++, fmt++;
		start = o.len;
		switch (*fmt) {
		case 'd':
		case 'i':
			d = lng ? va_arg(ap, long) : va_arg(ap, int);
			u = d < 0 ? -(unsigned long)d : (unsigned long)d;
			put_num(&o, u, 10, x_digits, d < 0, left ? 0 : width, pad);
			break;
		case 'u':
			u = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			put_num(&o, u, 10, x_digits, 0, left ? 0 : width, pad);
			break;
		case 'x':
		case 'X':
		case 'p':
			if (*fmt == 'p') {
				u = (unsigned long)va_arg(ap, void *);
				put(&o, '0');
				put(&o, 'x');
			} else {
				u = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			}
			put_num(&o, u, 16, *fmt == 'X' ? upper_digits : x_digits, 0,
				left ? 0 : width, pad);
			break;
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			k = strlen(s);
			if (!left)
				for (; (int)k < width; width--)
					put(&o, ' ');
			while (*s)
				put(&o, *s++);
			break;
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '%');
			if (!*fmt)
				goto done;
			put(&o, *fmt);
			break;
		}
		if (left)
			while ((int)(o.len - start) < width)
				put(&o, ' ');
	}
done:
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ukplat_coutk(buf, n < (int)sizeof(buf) ? (unsigned int)n : sizeof(buf) - 1);
	return n;
}

int puts(const char *s)
{
	ukplat_coutk(s, (unsigned int)strlen(s));
	ukplat_coutk("\n", 1);
	return 0;
}
