#ifndef NOLIBC_STDLIB_H
#define NOLIBC_STDLIB_H
#include <stddef.h>
typedef struct { int quot, rem; } div_t;
typedef struct { long quot, rem; } ldiv_t;
typedef struct { long long quot, rem; } lldiv_t;
#define RAND_MAX 0x7fffffff
long strtol(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
long long strtoll(const char *s, char **end, int base);
unsigned long long strtoull(const char *s, char **end, int base);
double strtod(const char *s, char **end);
double atof(const char *s);
int atoi(const char *s);
long atol(const char *s);
int abs(int v);
long labs(long v);
long long llabs(long long v);
div_t div(int a, int b);
ldiv_t ldiv(long a, long b);
lldiv_t lldiv(long long a, long long b);
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void qsort_r(void *base, size_t n, size_t size,
	     int (*cmp)(const void *, const void *, void *), void *arg);
void *bsearch(const void *key, const void *base, size_t n, size_t size,
	      int (*cmp)(const void *, const void *));
int rand(void);
int rand_r(unsigned int *state);
void srand(unsigned int seed);
unsigned long random_u64(void);
unsigned int random_range(unsigned int lo, unsigned int hi);
void random_shuffle(void *base, size_t n, size_t size);
char *ltoa(long v, char *buf, int base);
char *ultoa(unsigned long v, char *buf, int base);
int dtoa_fixed(double v, int prec, char *buf, size_t size);
/* Fixed-point and integer math (see math.c). */
unsigned long isqrt(unsigned long v);
unsigned int icbrt(unsigned long v);
int ilog2(unsigned long v);
int ilog10(unsigned long v);
unsigned long gcd(unsigned long a, unsigned long b);
unsigned long lcm(unsigned long a, unsigned long b);
unsigned long mulmod(unsigned long a, unsigned long b, unsigned long m);
unsigned long powmod(unsigned long base, unsigned long exp, unsigned long m);
int is_prime(unsigned long n);
unsigned long ipow(unsigned long base, unsigned int exp);
int popcount(unsigned long v);
unsigned int bitrev32(unsigned int v);
int fx_sin(int angle);
int fx_cos(int angle);
int fx_atan2(int y, int x);
unsigned int fx_exp2(int x);
int fx_log2(unsigned int x);
int fx_mul(int a, int b);
int fx_div(int a, int b);
unsigned long modinv(unsigned long a, unsigned long m);
#endif
