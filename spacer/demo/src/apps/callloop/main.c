/* The runtime-cost benchmark's app (spacer bench runtime): a loop of calls into
 * nolibc and ukhash, timed with the TSC in the guest. Under --aslr 1 and 2 the
 * app's own calls stay direct (its code is its own, so it needs no table), while
 * ukhash, shared with hashsum, calls nolibc's memcpy through its table. */
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <uk_hash.h>

#define ROUNDS 2000000

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

int main(int argc, char *argv[])
{
	/* Word-aligned, so nolibc's string functions take one path whatever the
	 * layout: a string literal's alignment would change with every relink, and
	 * with it the instructions the loop runs. */
	static char buf[64] __attribute__((aligned(8)));
	static const char words[4][8] __attribute__((aligned(8))) = {
		"alpha", "gamma", "delta", "epsilon"
	};
	struct uk_sha256 hash;
	uint8_t digest[32];
	unsigned long sum = 0;
	uint64_t start, cycles;
	unsigned int i;

	(void)argc;
	(void)argv;
	uk_sha256_init(&hash);
	start = rdtsc();
	for (i = 0; i < ROUNDS; i++) {
		const char *w = words[i & 3];

		sum += strlen(w);
		memcpy(buf, w, strlen(w) + 1);
		sum += (unsigned long)strcmp(buf, words[(i + 1) & 3]) & 0xff;
		uk_sha256_update(&hash, w, 4);
	}
	uk_sha256_final(&hash, digest);
	cycles = rdtsc() - start;
	printf("callloop: sum=%lu sha=%02x%02x cycles=%llu\n", sum, digest[0], digest[1],
	       (unsigned long long)cycles);
	return 13;
}
