/* The runtime-cost benchmark's app (spacer bench runtime): a loop of calls into
 * nolibc, timed with the TSC in the guest. Under --aslr 1 and 2 the calls stay
 * direct (the app's code is its own, so it needs no table) but land in nolibc's
 * position-independent code, placed per mode. */
#include <stdio.h>
#include <string.h>
#include <stdint.h>

#define ROUNDS 2000000

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

int main(int argc, char *argv[])
{
	static char buf[64];
	const char *words[] = { "alpha", "gamma", "delta", "epsilon" };
	unsigned long sum = 0;
	uint64_t start, cycles;
	unsigned int i;

	(void)argc;
	(void)argv;
	start = rdtsc();
	for (i = 0; i < ROUNDS; i++) {
		const char *w = words[i & 3];

		sum += strlen(w);
		memcpy(buf, w, strlen(w) + 1);
		sum += (unsigned long)strcmp(buf, words[(i + 1) & 3]) & 0xff;
	}
	cycles = rdtsc() - start;
	printf("callloop: sum=%lu cycles=%llu\n", sum, (unsigned long long)cycles);
	return 13;
}
