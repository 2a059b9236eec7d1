/* vsnprintf: flags '-', '+', ' ', '#', '0'; width and precision (also '*');
 * length modifiers hh h l ll z t j; conversions d i u o x X p s c n %% and,
 * for doubles, f F e E g G. NOLIBC_UPPER_HEX (a configuration option) makes
 * %x print upper-case digits, so the same library differs between builds. */
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

#define F_LEFT 0x01
#define F_PLUS 0x02
#define F_SPACE 0x04
#define F_ALT 0x08
#define F_ZERO 0x10
#define F_UPPER 0x20
#define F_PREC 0x40

struct out {
	char *buf;
	size_t size;
	size_t len;
};

struct spec {
	int flags;
	int width;
	int prec;
	int len;	/* -2 hh, -1 h, 0 int, 1 l, 2 ll/z/t/j */
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_rep(struct out *o, char c, int n)
{
	while (n-- > 0)
		put(o, c);
}

static void put_str(struct out *o, const char *s, size_t n)
{
	while (n--)
		put(o, *s++);
}

/* Emits prefix (sign, 0x), zero padding and body with width handling. */
static void emit(struct out *o, const struct spec *sp, const char *prefix,
		 const char *body, int blen, int zeros)
{
	int plen = (int)strlen(prefix);
	int total = plen + zeros + blen;

	if (!(sp->flags & F_LEFT) && !(sp->flags & F_ZERO))
		put_rep(o, ' ', sp->width - total);
	put_str(o, prefix, (size_t)plen);
	if (!(sp->flags & F_LEFT) && (sp->flags & F_ZERO))
		put_rep(o, '0', sp->width - total);
	put_rep(o, '0', zeros);
	put_str(o, body, (size_t)blen);
	if (sp->flags & F_LEFT)
		put_rep(o, ' ', sp->width - total);
}

static int utoa_rev(char *tmp, unsigned long v, unsigned int base, const char *digits)
{
	int n = 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	return n;
}

static void fmt_int(struct out *o, struct spec *sp, unsigned long v, int neg,
		    unsigned int base, const char *digits)
{
	char tmp[24], body[24], prefix[4] = "";
	int n, i, zeros = 0;

	if (sp->flags & F_PREC) {
		sp->flags &= ~F_ZERO;
		if (sp->prec == 0 && v == 0) {
			n = 0;
			goto out;
		}
	}
	n = utoa_rev(tmp, v, base, digits);
	for (i = 0; i < n; i++)
		body[i] = tmp[n - 1 - i];
	if ((sp->flags & F_PREC) && sp->prec > n)
		zeros = sp->prec - n;
out:
	if (neg)
		strcpy(prefix, "-");
	else if (sp->flags & F_PLUS)
		strcpy(prefix, "+");
	else if (sp->flags & F_SPACE)
		strcpy(prefix, " ");
	if ((sp->flags & F_ALT) && v) {
		if (base == 16)
			strcpy(prefix, digits[10] == 'A' ? "0X" : "0x");
		else if (base == 8 && !zeros)
			strcpy(prefix, "0");
		else if (base == 2)
			strcpy(prefix, "0b");
	}
	emit(o, sp, prefix, body, n, zeros);
}

/* Powers of ten exactly representable as doubles, and large steps. */
static const double pow10_small[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
static const double pow10_big[] = { 1e32, 1e64, 1e128, 1e256 };

/* Scales v (> 0, finite) into [1, 10) and returns its decimal exponent. */
static int normalize(double *v)
{
	int e = 0, i;

	for (i = 3; i >= 0; i--) {
		if (*v >= pow10_big[i]) {
			*v /= pow10_big[i];
			e += 32 << i;
		}
	}
	for (i = 3; i >= 0; i--) {
		if (*v < 1.0 / pow10_big[i] * 10) {
			*v *= pow10_big[i];
			e -= 32 << i;
		}
	}
	while (*v >= 10.0) {
		*v /= 10.0;
		e++;
	}
	while (*v < 1.0) {
		*v *= 10.0;
		e--;
	}
	return e;
}

/*
 * 17 significant decimal digits of v into d[] (no dot), rounded to keep
 * ndig digits; returns the decimal exponent of the first digit.
 */
static int decimal_digits(double v, char d[18], int ndig)
{
	unsigned long u;
	int e, i;

	if (v == 0.0) {
		memset(d, '0', 17);
		d[17] = '\0';
		return 0;
	}
	e = normalize(&v);
	u = (unsigned long)(v * pow10_small[16] + 0.5);
	if (u >= 100000000000000000UL) {
		u /= 10;
		e++;
	}
	for (i = 16; i >= 0; i--) {
		d[i] = (char)('0' + u % 10);
		u /= 10;
	}
	d[17] = '\0';
	if (ndig < 0)
		ndig = 0;
	if (ndig < 17) {
		int round_up = d[ndig] >= '5';

		for (i = ndig; i < 17; i++)
			d[i] = '0';
		for (i = ndig - 1; round_up && i >= 0; i--) {
			if (d[i] == '9') {
				d[i] = '0';
			} else {
				d[i]++;
				round_up = 0;
			}
		}
		if (round_up) {
			memmove(d + 1, d, 16);
			d[0] = '1';
			e++;
		}
	}
	return e;
}

static void fmt_double(struct out *o, struct spec *sp, double v, char conv)
{
	char body[400], d[18], prefix[2] = "";
	int prec = (sp->flags & F_PREC) ? sp->prec : 6, n = 0, e, i, exp_form;
	int upper = conv == 'F' || conv == 'E' || conv == 'G', strip = 0;
	union { double d; unsigned long u; } bits = { v };

	if (bits.u >> 63) {
		prefix[0] = '-';
		v = -v;
	} else if (sp->flags & F_PLUS) {
		prefix[0] = '+';
	} else if (sp->flags & F_SPACE) {
		prefix[0] = ' ';
	}
	if (v != v || v > 1.7976931348623157e308) {
		sp->flags &= ~F_ZERO;
		emit(o, sp, prefix, v != v ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"),
		     3, 0);
		return;
	}
	if (prec > 300)
		prec = 300;
	if (conv == 'g' || conv == 'G') {
		if (prec == 0)
			prec = 1;
		e = decimal_digits(v, d, prec);
		exp_form = e < -4 || e >= prec;
		prec = exp_form ? prec - 1 : prec - 1 - e;
		strip = !(sp->flags & F_ALT);
	} else {
		exp_form = conv == 'e' || conv == 'E';
	}
	if (exp_form) {
		e = decimal_digits(v, d, prec + 1);
		body[n++] = d[0];
		if (prec || (sp->flags & F_ALT))
			body[n++] = '.';
		for (i = 1; i <= prec; i++)
			body[n++] = i < 17 ? d[i] : '0';
		if (strip) {
			while (body[n - 1] == '0')
				n--;
			if (body[n - 1] == '.')
				n--;
		}
		body[n++] = upper ? 'E' : 'e';
		body[n++] = e < 0 ? '-' : '+';
		if (e < 0)
			e = -e;
		if (e >= 100)
			body[n++] = (char)('0' + e / 100);
		body[n++] = (char)('0' + e / 10 % 10);
		body[n++] = (char)('0' + e % 10);
	} else {
		e = decimal_digits(v, d, 0);
		e = decimal_digits(v, d, e + 1 + prec);
		if (v == 0.0)
			e = 0;
		if (e < 0) {
			body[n++] = '0';
		} else {
			for (i = 0; i <= e && n < 330; i++)
				body[n++] = i < 17 ? d[i] : '0';
		}
		if (prec || (sp->flags & F_ALT))
			body[n++] = '.';
		for (i = 1; i <= prec; i++) {
			int pos = e + i;

			body[n++] = pos >= 0 && pos < 17 ? d[pos] : '0';
		}
		if (strip && prec) {
			while (body[n - 1] == '0')
				n--;
			if (body[n - 1] == '.')
				n--;
		}
	}
	emit(o, sp, prefix, body, n, 0);
}

static const char *parse_spec(const char *fmt, struct spec *sp, va_list *ap)
{
	sp->flags = 0;
	sp->width = 0;
	sp->prec = 0;
	sp->len = 0;
	for (;; fmt++) {
		if (*fmt == '-')
			sp->flags |= F_LEFT;
		else if (*fmt == '+')
			sp->flags |= F_PLUS;
		else if (*fmt == ' ')
			sp->flags |= F_SPACE;
		else if (*fmt == '#')
			sp->flags |= F_ALT;
		else if (*fmt == '0')
			sp->flags |= F_ZERO;
		else
			break;
	}
	if (*fmt == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->flags |= F_LEFT;
			sp->width = -sp->width;
		}
		fmt++;
	} else {
		while (*fmt >= '0' && *fmt <= '9')
			sp->width = sp->width * 10 + (*fmt++ - '0');
	}
	if (*fmt == '.') {
		sp->flags |= F_PREC;
		fmt++;
		if (*fmt == '*') {
			sp->prec = va_arg(*ap, int);
			if (sp->prec < 0)
				sp->flags &= ~F_PREC;
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				sp->prec = sp->prec * 10 + (*fmt++ - '0');
		}
	}
	for (;; fmt++) {
		if (*fmt == 'h')
			sp->len--;
		else if (*fmt == 'l')
			sp->len++;
		else if (*fmt == 'z' || *fmt == 't' || *fmt == 'j')
			sp->len = 2;
		else
			break;
	}
	if (sp->flags & F_LEFT)
		sp->flags &= ~F_ZERO;
	return fmt;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	struct spec sp;
	const char *s;
	unsigned long u;
	long d;
	va_list aq;
	size_t k;
	char c;

	va_copy(aq, ap);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt = parse_spec(fmt + 1, &sp, &aq);
		switch (*fmt) {
		case 'd':
		case 'i':
			d = sp.len > 0 ? va_arg(aq, long) : va_arg(aq, int);
			if (sp.len == -1)
				d = (short)d;
			else if (sp.len < -1)
				d = (signed char)d;
			u = d < 0 ? -(unsigned long)d : (unsigned long)d;
			fmt_int(&o, &sp, u, d < 0, 10, x_digits);
			break;
		case 'u':
		case 'o':
		case 'x':
		case 'X':
		case 'b':
			u = sp.len > 0 ? va_arg(aq, unsigned long) : va_arg(aq, unsigned int);
			if (sp.len == -1)
				u = (unsigned short)u;
			else if (sp.len < -1)
				u = (unsigned char)u;
			sp.flags &= ~(F_PLUS | F_SPACE);
			fmt_int(&o, &sp, u, 0, *fmt == 'u' ? 10 : *fmt == 'o' ? 8 :
				*fmt == 'b' ? 2 : 16, *fmt == 'X' ? upper_digits : x_digits);
			break;
		case 'p':
			u = (unsigned long)va_arg(aq, void *);
			if (!u) {
				emit(&o, &sp, "", "(nil)", 5, 0);
				break;
			}
			sp.flags |= F_ALT;
			fmt_int(&o, &sp, u, 0, 16, x_digits);
			break;
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
			fmt_double(&o, &sp, va_arg(aq, double), *fmt);
			break;
		case 's':
			s = va_arg(aq, const char *);
			if (!s)
				s = "(null)";
			k = (sp.flags & F_PREC) ? strnlen(s, (size_t)sp.prec) : strlen(s);
			sp.flags &= ~F_ZERO;
			emit(&o, &sp, "", s, (int)k, 0);
			break;
		case 'c':
			c = (char)va_arg(aq, int);
			sp.flags &= ~F_ZERO;
			emit(&o, &sp, "", &c, 1, 0);
			break;
		case 'n':
			*va_arg(aq, int *) = (int)o.len;
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
	}
done:
	va_end(aq);
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

int vsprintf(char *buf, const char *fmt, va_list ap)
{
	return vsnprintf(buf, (size_t)INT32_MAX, fmt, ap);
}

int sprintf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsprintf(buf, fmt, ap);
	va_end(ap);
	return n;
}

int vprintf(const char *fmt, va_list ap)
{
	char buf[256];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	ukplat_coutk(buf, n < (int)sizeof(buf) ? (unsigned int)n : sizeof(buf) - 1);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int puts(const char *s)
{
	ukplat_coutk(s, (unsigned int)strlen(s));
	ukplat_coutk("\n", 1);
	return 0;
}

int putchar(int c)
{
	char ch = (char)c;

	ukplat_coutk(&ch, 1);
	return (unsigned char)c;
}

/* 16 bytes a line: offset, hex bytes in two groups, printable characters. */
int hexdump_fmt(char *buf, size_t size, const void *addr, size_t len, unsigned long base)
{
	const unsigned char *p = addr;
	struct out o = { buf, size, 0 };
	size_t line, i;

	for (line = 0; line < len; line += 16) {
		unsigned long off = base + line;
		int shift;

		for (shift = 28; shift >= 0; shift -= 4)
			put(&o, x_digits[(off >> shift) & 15]);
		put(&o, ' ');
		for (i = 0; i < 16; i++) {
			if (i == 8)
				put(&o, ' ');
			put(&o, ' ');
			if (line + i < len) {
				put(&o, x_digits[p[line + i] >> 4]);
				put(&o, x_digits[p[line + i] & 15]);
			} else {
				put(&o, ' ');
				put(&o, ' ');
			}
		}
		put_str(&o, "  |", 3);
		for (i = 0; i < 16 && line + i < len; i++) {
			unsigned char ch = p[line + i];

			put(&o, ch >= 0x20 && ch < 0x7f ? (char)ch : '.');
		}
		put_str(&o, "|\n", 2);
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}
