/* FNV-1a, 32 bits, starting from a thread-local offset basis. */
#include <uk_hash.h>

__thread uint32_t uk_hash_seed = 0x811C9DC5u;

uint32_t uk_fnv1a(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t h = uk_hash_seed;

	while (len--) {
		h ^= *p++;
		h *= 0x01000193u;
	}
	return h;
}
