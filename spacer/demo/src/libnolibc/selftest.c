/* Known-answer checks over the library; returns the number of failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <time.h>
#include <errno.h>

int nolibc_selftest(void);

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int check_str(const char *got, const char *want)
{
	return strcmp(got, want) != 0;
}

int nolibc_selftest(void)
{
	int v[64], i, fails = 0, a, b, key = 17, *hit;
	char buf[96], word[16], line[] = "a,b;;c", *save, *tok;
	unsigned int h;
	double d;
	struct tm tm;
	time_t t = 1700000000;

	snprintf(buf, sizeof(buf), "%5.2f|%-4d|%+d|%.3s|%e|%g", 3.14159, 7, 5, "abcdef",
		 12345.678, 0.0001);
	fails += check_str(buf, " 3.14|7   |+5|abc|1.234568e+04|0.0001");
	snprintf(buf, sizeof(buf), "%zu %ld %c %#o %5s", (size_t)42, -9L, 'q', 8, "x");
	fails += check_str(buf, "42 -9 q 010     x");
	for (i = 0; i < 64; i++)
		v[i] = (i * 37 + 11) % 64;
	qsort(v, 64, sizeof(v[0]), cmp_int);
	for (i = 0; i < 64; i++)
		fails += v[i] != i;
	hit = bsearch(&key, v, 64, sizeof(v[0]), cmp_int);
	fails += !hit || *hit != 17;
	d = strtod("2.5e3", NULL);
	fails += d != 2500.0;
	fails += strtoul("0xff", NULL, 0) != 255 || strtol("-0b101", NULL, 0) != -5;
	fails += sscanf("12 abc 0x1f", "%d %15s %x", &a, word, &h) != 3 || a != 12 ||
		 check_str(word, "abc") || h != 31;
	tok = strtok_r(line, ",;", &save);
	b = 0;
	while (tok) {
		b++;
		tok = strtok_r(NULL, ",;", &save);
	}
	fails += b != 3;
	fails += strspn("abcde", "abc") != 3 || strcspn("abcde", "d") != 3;
	fails += !strstr("hello world", "o w") || memrchr("abca", 'a', 4) == NULL;
	fails += isqrt(1000000) != 1000 || ilog2(4096) != 12 || gcd(84, 36) != 12;
	fails += powmod(2, 10, 1000) != 24 || !is_prime(1000003) || is_prime(1000001);
	fails += div(17, 5).quot != 3 || ldiv(-17, 5).rem != -2;
	fails += fx_sin(0x4000) != 65536 || popcount(0xff00ff) != 16;
	fails += check_str(strerror(ENOENT), "No such file or directory");
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%F %T %a", &tm);
	fails += check_str(buf, "2023-11-14 22:13:20 Tue") || timegm(&tm) != t;
	fails += toupper('a') != 'A' || !isxdigit('F') || strverscmp("a9", "a10") >= 0;
	dtoa_fixed(-1.005, 2, buf, sizeof(buf));
	fails += buf[0] != '-';
	return fails;
}
