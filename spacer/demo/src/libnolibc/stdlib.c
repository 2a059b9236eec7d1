/* Number parsing; strtol reports overflow through the thread-local errno. */
#include <stdlib.h>
#include <stdint.h>
#include <errno.h>

__thread int errno;

long strtol(const char *s, char **end, int base)
{
	unsigned long v = 0, lim;
	int neg = 0, d, over = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!base)
		base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;
	if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	lim = neg ? -(unsigned long)LONG_MIN : (unsigned long)LONG_MAX;
	for (;; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'z')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'Z')
			d = *s - 'A' + 10;
		else
			break;
		if (d >= base)
			break;
		if (v > (lim - (unsigned long)d) / (unsigned long)base)
			over = 1;
		else
			v = v * (unsigned long)base + (unsigned long)d;
	}
	if (end)
		*end = (char *)s;
	if (over) {
		errno = ERANGE;
		return neg ? LONG_MIN : LONG_MAX;
	}
	return neg ? -(long)v : (long)v;
}

int atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

int abs(int v)
{
	return v < 0 ? -v : v;
}
