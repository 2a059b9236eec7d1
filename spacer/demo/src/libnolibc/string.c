/* String functions; built with -fno-tree-loop-distribute-patterns so the
 * loops here are not turned back into calls to themselves. The bulk memory
 * functions move aligned 8-byte words once both pointers allow it. */
#include <string.h>
#include <stdint.h>
#include <ctype.h>

#define WORD sizeof(unsigned long)
#define ONES ((unsigned long)-1 / 0xff)
#define HIGHS (ONES * 0x80)
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & HIGHS)

typedef unsigned long __attribute__((may_alias)) word_t;

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if ((((uintptr_t)d ^ (uintptr_t)s) & (WORD - 1)) == 0) {
		while (n && ((uintptr_t)d & (WORD - 1))) {
			*d++ = *s++;
			n--;
		}
		while (n >= 4 * WORD) {
			((word_t *)d)[0] = ((const word_t *)s)[0];
			((word_t *)d)[1] = ((const word_t *)s)[1];
			((word_t *)d)[2] = ((const word_t *)s)[2];
			((word_t *)d)[3] = ((const word_t *)s)[3];
			d += 4 * WORD;
			s += 4 * WORD;
			n -= 4 * WORD;
		}
		while (n >= WORD) {
			*(word_t *)d = *(const word_t *)s;
			d += WORD;
			s += WORD;
			n -= WORD;
		}
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d == s || n == 0)
		return dst;
	if (d < s || d >= s + n)
		return memcpy(dst, src, n);
	d += n;
	s += n;
	if ((((uintptr_t)d ^ (uintptr_t)s) & (WORD - 1)) == 0) {
		while (n && ((uintptr_t)d & (WORD - 1))) {
			*--d = *--s;
			n--;
		}
		while (n >= WORD) {
			d -= WORD;
			s -= WORD;
			*(word_t *)d = *(const word_t *)s;
			n -= WORD;
		}
	}
	while (n--)
		*--d = *--s;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	unsigned long w = ONES * (unsigned char)c;

	while (n && ((uintptr_t)d & (WORD - 1))) {
		*d++ = (unsigned char)c;
		n--;
	}
	while (n >= 4 * WORD) {
		((word_t *)d)[0] = w;
		((word_t *)d)[1] = w;
		((word_t *)d)[2] = w;
		((word_t *)d)[3] = w;
		d += 4 * WORD;
		n -= 4 * WORD;
	}
	while (n >= WORD) {
		*(word_t *)d = w;
		d += WORD;
		n -= WORD;
	}
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	while (n >= WORD && *(const word_t *)x == *(const word_t *)y) {
		x += WORD;
		y += WORD;
		n -= WORD;
	}
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;
	unsigned char ch = (unsigned char)c;
	unsigned long pat = ONES * ch, w;

	while (n && ((uintptr_t)p & (WORD - 1))) {
		if (*p == ch)
			return (void *)p;
		p++;
		n--;
	}
	while (n >= WORD) {
		w = *(const word_t *)p ^ pat;
		if (HAS_ZERO(w))
			break;
		p += WORD;
		n -= WORD;
	}
	for (; n; n--, p++)
		if (*p == ch)
			return (void *)p;
	return NULL;
}

void *memrchr(const void *s, int c, size_t n)
{
	const unsigned char *p = (const unsigned char *)s + n;

	while (n--)
		if (*--p == (unsigned char)c)
			return (void *)p;
	return NULL;
}

void *memccpy(void *dst, const void *src, int c, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--) {
		if ((*d++ = *s++) == (unsigned char)c)
			return d;
	}
	return NULL;
}

/* Two-way search would be overkill: a first-byte scan plus memcmp with a
 * rolling check of the last byte is good enough for short needles. */
void *memmem(const void *hay, size_t hlen, const void *needle, size_t nlen)
{
	const unsigned char *h = hay, *n = needle, *end;

	if (!nlen)
		return (void *)hay;
	if (nlen > hlen)
		return NULL;
	end = h + hlen - nlen;
	while (h <= end) {
		h = memchr(h, n[0], (size_t)(end - h) + 1);
		if (!h)
			return NULL;
		if (h[nlen - 1] == n[nlen - 1] && !memcmp(h, n, nlen))
			return (void *)h;
		h++;
	}
	return NULL;
}

void *memswap(void *a, void *b, size_t n)
{
	unsigned char *x = a, *y = b, t;

	while (n >= WORD) {
		unsigned long w = *(word_t *)x;

		*(word_t *)x = *(word_t *)y;
		*(word_t *)y = w;
		x += WORD;
		y += WORD;
		n -= WORD;
	}
	while (n--) {
		t = *x;
		*x++ = *y;
		*y++ = t;
	}
	return a;
}

size_t strlen(const char *s)
{
	const char *p = s;
	unsigned long w;

	while ((uintptr_t)p & (WORD - 1)) {
		if (!*p)
			return (size_t)(p - s);
		p++;
	}
	for (;;) {
		w = *(const word_t *)p;
		if (HAS_ZERO(w))
			break;
		p += WORD;
	}
	while (*p)
		p++;
	return (size_t)(p - s);
}

size_t strnlen(const char *s, size_t max)
{
	const char *p = memchr(s, 0, max);

	return p ? (size_t)(p - s) : max;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			break;
	}
	return 0;
}

int strcasecmp(const char *a, const char *b)
{
	int x, y;

	do {
		x = tolower((unsigned char)*a++);
		y = tolower((unsigned char)*b++);
	} while (x && x == y);
	return x - y;
}

int strncasecmp(const char *a, const char *b, size_t n)
{
	int x, y;

	for (; n; n--) {
		x = tolower((unsigned char)*a++);
		y = tolower((unsigned char)*b++);
		if (x != y || !x)
			return x - y;
	}
	return 0;
}

char *strcpy(char *dst, const char *src)
{
	char *d = dst;

	while ((*d++ = *src++))
		;
	return dst;
}

char *stpcpy(char *dst, const char *src)
{
	while ((*dst = *src++))
		dst++;
	return dst;
}

char *strncpy(char *dst, const char *src, size_t n)
{
	char *d = dst;

	for (; n && *src; n--)
		*d++ = *src++;
	while (n--)
		*d++ = '\0';
	return dst;
}

size_t strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t strlcat(char *dst, const char *src, size_t size)
{
	size_t dlen = strnlen(dst, size);

	if (dlen == size)
		return size + strlen(src);
	return dlen + strlcpy(dst + dlen, src, size - dlen);
}

char *strcat(char *dst, const char *src)
{
	strcpy(dst + strlen(dst), src);
	return dst;
}

char *strncat(char *dst, const char *src, size_t n)
{
	char *d = dst + strlen(dst);

	for (; n && *src; n--)
		*d++ = *src++;
	*d = '\0';
	return dst;
}

char *strchr(const char *s, int c)
{
	for (; *s; s++)
		if (*s == (char)c)
			return (char *)s;
	return c ? NULL : (char *)s;
}

char *strchrnul(const char *s, int c)
{
	while (*s && *s != (char)c)
		s++;
	return (char *)s;
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;

	do {
		if (*s == (char)c)
			last = s;
	} while (*s++);
	return (char *)last;
}

char *strstr(const char *hay, const char *needle)
{
	size_t nlen = strlen(needle);

	if (!nlen)
		return (char *)hay;
	return memmem(hay, strlen(hay), needle, nlen);
}

char *strcasestr(const char *hay, const char *needle)
{
	size_t nlen = strlen(needle);

	for (; *hay; hay++)
		if (!strncasecmp(hay, needle, nlen))
			return (char *)hay;
	return nlen ? NULL : (char *)hay;
}

/* A 256-bit set built from the byte list, shared by the span functions. */
static void byteset(unsigned long set[4], const char *bytes)
{
	set[0] = set[1] = set[2] = set[3] = 0;
	for (; *bytes; bytes++)
		set[(unsigned char)*bytes >> 6] |= 1UL << ((unsigned char)*bytes & 63);
}

static int inset(const unsigned long set[4], unsigned char c)
{
	return (set[c >> 6] >> (c & 63)) & 1;
}

size_t strspn(const char *s, const char *accept)
{
	unsigned long set[4];
	const char *p = s;

	byteset(set, accept);
	while (*p && inset(set, (unsigned char)*p))
		p++;
	return (size_t)(p - s);
}

size_t strcspn(const char *s, const char *reject)
{
	unsigned long set[4];
	const char *p = s;

	byteset(set, reject);
	while (*p && !inset(set, (unsigned char)*p))
		p++;
	return (size_t)(p - s);
}

char *strpbrk(const char *s, const char *accept)
{
	s += strcspn(s, accept);
	return *s ? (char *)s : NULL;
}

char *strtok_r(char *s, const char *delim, char **save)
{
	char *tok;

	if (!s)
		s = *save;
	s += strspn(s, delim);
	if (!*s) {
		*save = s;
		return NULL;
	}
	tok = s;
	s += strcspn(s, delim);
	if (*s)
		*s++ = '\0';
	*save = s;
	return tok;
}

static char *strtok_state;

char *strtok(char *s, const char *delim)
{
	return strtok_r(s, delim, &strtok_state);
}

char *strsep(char **sp, const char *delim)
{
	char *s = *sp, *end;

	if (!s)
		return NULL;
	end = s + strcspn(s, delim);
	if (*end)
		*end++ = '\0';
	else
		end = NULL;
	*sp = end;
	return s;
}

char *strrev(char *s)
{
	char *a = s, *b = s + strlen(s), t;

	while (a < --b) {
		t = *a;
		*a++ = *b;
		*b = t;
	}
	return s;
}

/* Compares embedded digit runs by numeric value ("file9" < "file10"). */
int strverscmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			const char *x = a, *y = b;
			size_t lx, ly;

			while (*x == '0')
				x++;
			while (*y == '0')
				y++;
			for (lx = 0; isdigit((unsigned char)x[lx]); lx++)
				;
			for (ly = 0; isdigit((unsigned char)y[ly]); ly++)
				;
			if (lx != ly)
				return lx < ly ? -1 : 1;
			while (lx--) {
				if (*x != *y)
					return (unsigned char)*x - (unsigned char)*y;
				x++, y++;
			}
			a = x;
			b = y;
			continue;
		}
		if (*a != *b)
			break;
		a++, b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}
