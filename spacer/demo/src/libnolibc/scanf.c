/* vsscanf: %d %i %u %o %x %ld %lu %hd %zu %s %c %[set] %[^set] %n %f %lf,
 * '*' assignment suppression and field widths. Returns the number of
 * assigned conversions, or EOF when input ends before the first one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

static const char *scan_set(const char *fmt, unsigned long set[4], int *invert)
{
	int first = 1;
	unsigned char prev = 0;

	set[0] = set[1] = set[2] = set[3] = 0;
	*invert = 0;
	if (*fmt == '^') {
		*invert = 1;
		fmt++;
	}
	for (; *fmt && (first || *fmt != ']'); fmt++, first = 0) {
		unsigned char c = (unsigned char)*fmt;

		if (c == '-' && !first && fmt[1] && fmt[1] != ']') {
			unsigned char hi = (unsigned char)*++fmt, k;

			for (k = prev; k <= hi && k >= prev; k++) {
				set[k >> 6] |= 1UL << (k & 63);
				if (k == 255)
					break;
			}
			continue;
		}
		set[c >> 6] |= 1UL << (c & 63);
		prev = c;
	}
	return *fmt ? fmt : fmt - 1;
}

static void store_int(va_list *ap, int len, unsigned long v)
{
	if (len >= 1)
		*va_arg(*ap, long *) = (long)v;
	else if (len == -1)
		*va_arg(*ap, short *) = (short)v;
	else if (len <= -2)
		*va_arg(*ap, signed char *) = (signed char)v;
	else
		*va_arg(*ap, int *) = (int)v;
}

int vsscanf(const char *str, const char *fmt, va_list ap)
{
	const char *s = str;
	int count = 0, suppress, width, len, invert, base;
	unsigned long set[4];
	char numbuf[64], *end;
	va_list aq;

	va_copy(aq, ap);
	while (*fmt) {
		if (isspace((unsigned char)*fmt)) {
			while (isspace((unsigned char)*s))
				s++;
			fmt++;
			continue;
		}
		if (*fmt != '%' || fmt[1] == '%') {
			if (*fmt == '%')
				fmt++;
			if (*s != *fmt)
				break;
			s++;
			fmt++;
			continue;
		}
		fmt++;
		suppress = *fmt == '*';
		if (suppress)
			fmt++;
		width = 0;
		while (isdigit((unsigned char)*fmt))
			width = width * 10 + (*fmt++ - '0');
		len = 0;
		for (;; fmt++) {
			if (*fmt == 'h')
				len--;
			else if (*fmt == 'l' || *fmt == 'L')
				len++;
			else if (*fmt == 'z' || *fmt == 'j' || *fmt == 't')
				len = 2;
			else
				break;
		}
		if (*fmt != 'c' && *fmt != '[' && *fmt != 'n')
			while (isspace((unsigned char)*s))
				s++;
		if (!*s && *fmt != 'n') {
			if (!count)
				count = EOF;
			break;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
		case 'u':
		case 'o':
		case 'x':
		case 'X':
		case 'p': {
			size_t n = width && width < (int)sizeof(numbuf) ? (size_t)width :
				   sizeof(numbuf) - 1;
			unsigned long v;

			strlcpy(numbuf, s, n + 1);
			base = *fmt == 'd' || *fmt == 'u' ? 10 : *fmt == 'o' ? 8 :
			       *fmt == 'i' ? 0 : 16;
			if (*fmt == 'd' || *fmt == 'i')
				v = (unsigned long)strtol(numbuf, &end, base);
			else
				v = strtoul(numbuf, &end, base);
			if (end == numbuf)
				goto out;
			s += end - numbuf;
			if (!suppress) {
				if (*fmt == 'p')
					*va_arg(aq, void **) = (void *)v;
				else
					store_int(&aq, len, v);
				count++;
			}
			break;
		}
		case 'f':
		case 'e':
		case 'g':
		case 'E':
		case 'G': {
			size_t n = width && width < (int)sizeof(numbuf) ? (size_t)width :
				   sizeof(numbuf) - 1;
			double v;

			strlcpy(numbuf, s, n + 1);
			v = strtod(numbuf, &end);
			if (end == numbuf)
				goto out;
			s += end - numbuf;
			if (!suppress) {
				if (len >= 1)
					*va_arg(aq, double *) = v;
				else
					*va_arg(aq, float *) = (float)v;
				count++;
			}
			break;
		}
		case 's': {
			char *out = suppress ? NULL : va_arg(aq, char *);

			if (!width)
				width = -1;
			while (*s && !isspace((unsigned char)*s) && width--) {
				if (out)
					*out++ = *s;
				s++;
			}
			if (out) {
				*out = '\0';
				count++;
			}
			break;
		}
		case 'c': {
			char *out = suppress ? NULL : va_arg(aq, char *);

			if (!width)
				width = 1;
			while (width-- && *s) {
				if (out)
					*out++ = *s;
				s++;
			}
			if (out)
				count++;
			break;
		}
		case '[': {
			char *out = suppress ? NULL : va_arg(aq, char *);
			const char *start = s;

			fmt = scan_set(fmt + 1, set, &invert);
			if (!width)
				width = -1;
			while (*s && width-- &&
			       (((set[(unsigned char)*s >> 6] >> ((unsigned char)*s & 63)) & 1) ^ invert)) {
				if (out)
					*out++ = *s;
				s++;
			}
			if (s == start)
				goto out;
			if (out) {
				*out = '\0';
				count++;
			}
			break;
		}
		case 'n':
			if (!suppress)
				store_int(&aq, len, (unsigned long)(s - str));
			break;
		default:
			goto out;
		}
		fmt++;
	}
out:
	va_end(aq);
	return count;
}

int sscanf(const char *str, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsscanf(str, fmt, ap);
	va_end(ap);
	return n;
}
