/* Number parsing and conversion; overflow is reported through the
 * thread-local errno. */
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <ctype.h>
#include <errno.h>

__thread int errno;

/* Parses sign, base prefix and digits; *neg gets the sign, the magnitude is
 * clamped at lim (errno = ERANGE). */
static unsigned long parse_unsigned(const char *s, char **end, int base,
				    unsigned long lim, int *neg)
{
	const char *start = s;
	unsigned long v = 0;
	int d, over = 0, any = 0;

	*neg = 0;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '-' || *s == '+')
		*neg = *s++ == '-';
	if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
	    isxdigit((unsigned char)s[2])) {
		s += 2;
		base = 16;
	} else if ((base == 0 || base == 2) && s[0] == '0' && (s[1] == 'b' || s[1] == 'B') &&
		   (s[2] == '0' || s[2] == '1')) {
		s += 2;
		base = 2;
	} else if (base == 0) {
		base = s[0] == '0' ? 8 : 10;
	}
	if (base < 2 || base > 36) {
		errno = EINVAL;
		if (end)
			*end = (char *)start;
		return 0;
	}
	for (;; s++) {
		if (isdigit((unsigned char)*s))
			d = *s - '0';
		else if (isalpha((unsigned char)*s))
			d = tolower((unsigned char)*s) - 'a' + 10;
		else
			break;
		if (d >= base)
			break;
		any = 1;
		if (v > (lim - (unsigned long)d) / (unsigned long)base)
			over = 1;
		else
			v = v * (unsigned long)base + (unsigned long)d;
	}
	if (end)
		*end = (char *)(any ? s : start);
	if (over) {
		errno = ERANGE;
		return lim;
	}
	return v;
}

long strtol(const char *s, char **end, int base)
{
	int neg;
	unsigned long v;
	const char *p = s;

	while (isspace((unsigned char)*p))
		p++;
	v = parse_unsigned(s, end, base, *p == '-' ? -(unsigned long)LONG_MIN :
			   (unsigned long)LONG_MAX, &neg);
	return neg ? (long)-v : (long)v;
}

unsigned long strtoul(const char *s, char **end, int base)
{
	int neg;
	unsigned long v = parse_unsigned(s, end, base, ULONG_MAX, &neg);

	return neg ? -v : v;
}

long long strtoll(const char *s, char **end, int base)
{
	return strtol(s, end, base);
}

unsigned long long strtoull(const char *s, char **end, int base)
{
	return strtoul(s, end, base);
}

int atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

long atol(const char *s)
{
	return strtol(s, NULL, 10);
}

int abs(int v)
{
	return v < 0 ? -v : v;
}

long labs(long v)
{
	return v < 0 ? -v : v;
}

long long llabs(long long v)
{
	return v < 0 ? -v : v;
}

div_t div(int a, int b)
{
	div_t r = { a / b, a % b };

	return r;
}

ldiv_t ldiv(long a, long b)
{
	ldiv_t r = { a / b, a % b };

	return r;
}

lldiv_t lldiv(long long a, long long b)
{
	lldiv_t r = { a / b, a % b };

	return r;
}

char *ultoa(unsigned long v, char *buf, int base)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	char tmp[72];
	int n = 0, i;

	if (base < 2 || base > 36)
		base = 10;
	do {
		tmp[n++] = digits[v % (unsigned long)base];
		v /= (unsigned long)base;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return buf;
}

char *ltoa(long v, char *buf, int base)
{
	if (v < 0 && base == 10) {
		buf[0] = '-';
		ultoa(-(unsigned long)v, buf + 1, base);
		return buf;
	}
	return ultoa((unsigned long)v, buf, base);
}

/* Decimal and hexadecimal floating point, "inf" and "nan". Exact for up to
 * 19 significant digits and moderate exponents; good enough for config. */
static const double exp10_steps[] = { 1e1, 1e2, 1e4, 1e8, 1e16, 1e32, 1e64, 1e128, 1e256 };

static double scale10(double v, int e)
{
	int neg = e < 0, i;

	if (neg)
		e = -e;
	for (i = 0; e && i < 9; i++, e >>= 1)
		if (e & 1)
			v = neg ? v / exp10_steps[i] : v * exp10_steps[i];
	if (e)
		v = neg ? 0.0 : v * 1e308 * 10;
	return v;
}

double strtod(const char *s, char **end)
{
	const char *p = s, *digits_start;
	unsigned long mant = 0;
	int neg = 0, exp = 0, ndig = 0, any = 0;
	double v;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!strncasecmp(p, "inf", 3)) {
		p += strncasecmp(p, "infinity", 8) ? 3 : 8;
		if (end)
			*end = (char *)p;
		v = 1e308 * 10;
		return neg ? -v : v;
	}
	if (!strncasecmp(p, "nan", 3)) {
		if (end)
			*end = (char *)p + 3;
		v = 0.0;
		return v / v;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		unsigned long m = 0;
		int bexp = 0;

		p += 2;
		for (; isxdigit((unsigned char)*p); p++, any = 1) {
			if (m >> 60)
				bexp += 4;
			else
				m = m * 16 + (unsigned long)digittoint(*p);
		}
		if (*p == '.')
			for (p++; isxdigit((unsigned char)*p); p++, any = 1)
				if (!(m >> 60)) {
					m = m * 16 + (unsigned long)digittoint(*p);
					bexp -= 4;
				}
		if (any && (*p == 'p' || *p == 'P'))
			bexp += (int)strtol(p + 1, (char **)&p, 10);
		v = (double)m;
		for (; bexp > 0; bexp--)
			v *= 2;
		for (; bexp < 0; bexp++)
			v /= 2;
		if (end)
			*end = (char *)(any ? p : s);
		return neg ? -v : v;
	}
	digits_start = p;
	for (; isdigit((unsigned char)*p); p++, any = 1) {
		if (ndig < 19) {
			mant = mant * 10 + (unsigned long)(*p - '0');
			if (mant)
				ndig++;
		} else {
			exp++;
		}
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, any = 1) {
			if (ndig < 19) {
				mant = mant * 10 + (unsigned long)(*p - '0');
				if (mant)
					ndig++;
				exp--;
			}
		}
	}
	if (!any) {
		if (end)
			*end = (char *)s;
		return 0.0;
	}
	(void)digits_start;
	if (*p == 'e' || *p == 'E') {
		char *after;
		long e = strtol(p + 1, &after, 10);

		if (after != p + 1) {
			p = after;
			exp += e > 4000 ? 4000 : e < -4000 ? -4000 : (int)e;
		}
	}
	v = scale10((double)mant, exp);
	if (v > 1.7976931348623157e308 || (v == 0.0 && mant))
		errno = ERANGE;
	if (end)
		*end = (char *)p;
	return neg ? -v : v;
}

double atof(const char *s)
{
	return strtod(s, NULL);
}

/* Fixed-point text for a double without printf: used where a caller has no
 * buffer discipline for %f (and a check of the printf path). */
int dtoa_fixed(double v, int prec, char *buf, size_t size)
{
	static const unsigned long scale[] = {
		1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
	};
	unsigned long ip, fp;
	char tmp[48];
	int n = 0, i;

	if (prec < 0)
		prec = 0;
	if (prec > 8)
		prec = 8;
	if (v < 0) {
		tmp[n++] = '-';
		v = -v;
	}
	if (v >= 1.8e19) {
		strlcpy(buf, "ovf", size);
		return 3;
	}
	ip = (unsigned long)v;
	fp = (unsigned long)((v - (double)ip) * (double)scale[prec] + 0.5);
	if (fp >= scale[prec]) {
		fp -= scale[prec];
		ip++;
	}
	ultoa(ip, tmp + n, 10);
	n += (int)strlen(tmp + n);
	if (prec) {
		tmp[n++] = '.';
		for (i = prec - 1; i >= 0; i--) {
			tmp[n + i] = (char)('0' + fp % 10);
			fp /= 10;
		}
		n += prec;
	}
	tmp[n] = '\0';
	strlcpy(buf, tmp, size);
	return n;
}
