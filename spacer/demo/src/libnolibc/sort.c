/* qsort as introsort: median-of-three quicksort, heapsort when recursion
 * gets too deep, insertion sort for short runs. bsearch. */
#include <stdlib.h>
#include <string.h>

#define INSERTION_MAX 12

struct sorter {
	char *base;
	size_t size;
	int (*cmp)(const void *, const void *, void *);
	void *arg;
};

static inline char *at(const struct sorter *s, size_t i)
{
	return s->base + i * s->size;
}

static inline int less(const struct sorter *s, size_t a, size_t b)
{
	return s->cmp(at(s, a), at(s, b), s->arg) < 0;
}

static inline void swap(const struct sorter *s, size_t a, size_t b)
{
	if (a != b)
		memswap(at(s, a), at(s, b), s->size);
}

static void insertion_sort(const struct sorter *s, size_t lo, size_t hi)
{
	size_t i, j;

	for (i = lo + 1; i < hi; i++)
		for (j = i; j > lo && less(s, j, j - 1); j--)
			swap(s, j, j - 1);
}

static void sift_down(const struct sorter *s, size_t lo, size_t root, size_t n)
{
	size_t child;

	for (;;) {
		child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && less(s, lo + child, lo + child + 1))
			child++;
		if (!less(s, lo + root, lo + child))
			return;
		swap(s, lo + root, lo + child);
		root = child;
	}
}

static void heap_sort(const struct sorter *s, size_t lo, size_t hi)
{
	size_t n = hi - lo, i;

	for (i = n / 2; i-- > 0;)
		sift_down(s, lo, i, n);
	for (i = n; i-- > 1;) {
		swap(s, lo, lo + i);
		sift_down(s, lo, 0, i);
	}
}

/* Puts the median of lo, mid, hi-1 at lo and partitions around it. */
static size_t partition(const struct sorter *s, size_t lo, size_t hi)
{
	size_t mid = lo + (hi - lo) / 2, i = lo, j = hi;

	if (less(s, mid, lo))
		swap(s, mid, lo);
	if (less(s, hi - 1, mid)) {
		swap(s, hi - 1, mid);
		if (less(s, mid, lo))
			swap(s, mid, lo);
	}
	swap(s, lo, mid);
	for (;;) {
		do
			i++;
		while (i < hi && less(s, i, lo));
		do
			j--;
		while (less(s, lo, j));
		if (i >= j)
			break;
		swap(s, i, j);
	}
	swap(s, lo, j);
	return j;
}

static void introsort(const struct sorter *s, size_t lo, size_t hi, int depth)
{
	size_t p;

	while (hi - lo > INSERTION_MAX) {
		if (depth-- == 0) {
			heap_sort(s, lo, hi);
			return;
		}
		p = partition(s, lo, hi);
		/* Recurse into the smaller side, loop on the larger. */
		if (p - lo < hi - p - 1) {
			introsort(s, lo, p, depth);
			lo = p + 1;
		} else {
			introsort(s, p + 1, hi, depth);
			hi = p;
		}
	}
	insertion_sort(s, lo, hi);
}

void qsort_r(void *base, size_t n, size_t size,
	     int (*cmp)(const void *, const void *, void *), void *arg)
{
	struct sorter s = { base, size, cmp, arg };

	if (n < 2 || !size)
		return;
	introsort(&s, 0, n, 2 * (ilog2(n) + 1));
}

static int call_plain(const void *a, const void *b, void *arg)
{
	int (*cmp)(const void *, const void *);

	memcpy(&cmp, &arg, sizeof(cmp));
	return cmp(a, b);
}

void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	void *arg;

	memcpy(&arg, &cmp, sizeof(arg));
	qsort_r(base, n, size, call_plain, arg);
}

void *bsearch(const void *key, const void *base, size_t n, size_t size,
	      int (*cmp)(const void *, const void *))
{
	const char *lo = base;
	int r;

	while (n) {
		const char *mid = lo + (n / 2) * size;

		r = cmp(key, mid);
		if (r == 0)
			return (void *)mid;
		if (r > 0) {
			lo = mid + size;
			n -= n / 2 + 1;
		} else {
			n /= 2;
		}
	}
	return NULL;
}

/* xoshiro-style generator state for rand(); rand_r is a 32-bit LCG. */
static unsigned long rng_state[2] = { 0x9E3779B97F4A7C15UL, 0xD1B54A32D192ED03UL };

static unsigned long rotl(unsigned long x, int k)
{
	return (x << k) | (x >> (64 - k));
}

unsigned long random_u64(void)
{
	unsigned long s0 = rng_state[0], s1 = rng_state[1], r = s0 + s1;

	s1 ^= s0;
	rng_state[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
	rng_state[1] = rotl(s1, 37);
	return r;
}

void srand(unsigned int seed)
{
	unsigned long z = seed + 0x9E3779B97F4A7C15UL;
	int i;

	for (i = 0; i < 2; i++) {
		z += 0x9E3779B97F4A7C15UL;
		rng_state[i] = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
		rng_state[i] = (rng_state[i] ^ (rng_state[i] >> 27)) * 0x94D049BB133111EBUL;
		rng_state[i] ^= rng_state[i] >> 31;
	}
}

int rand(void)
{
	return (int)(random_u64() >> 33);
}

int rand_r(unsigned int *state)
{
	*state = *state * 1103515245u + 12345u;
	return (int)((*state >> 1) & RAND_MAX);
}

/* Unbiased value in [lo, hi] by rejection. */
unsigned int random_range(unsigned int lo, unsigned int hi)
{
	unsigned long span = (unsigned long)hi - lo + 1, limit, r;

	limit = (1UL << 32) - (1UL << 32) % span;
	do
		r = random_u64() >> 32;
	while (r >= limit);
	return lo + (unsigned int)(r % span);
}

void random_shuffle(void *base, size_t n, size_t size)
{
	char *b = base;
	size_t i;

	for (i = n; i > 1; i--) {
		size_t j = random_range(0, (unsigned int)(i - 1));

		if (j != i - 1)
			memswap(b + j * size, b + (i - 1) * size, size);
	}
}
