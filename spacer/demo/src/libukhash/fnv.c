/* FNV-1a (32 bits from a thread-local offset basis, and 64 bits),
 * MurmurHash3 x86_32, SipHash-2-4, djb2 and a hex/base64 codec. */
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

uint64_t uk_fnv1a64(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325UL;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3UL;
	}
	return h;
}

uint32_t uk_djb2(const char *s)
{
	uint32_t h = 5381;

	while (*s)
		h = h * 33 + (uint8_t)*s++;
	return h;
}

static uint32_t rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t uk_murmur3_32(const void *buf, size_t len, uint32_t seed)
{
	const uint8_t *p = buf;
	const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
	uint32_t h = seed, k;
	size_t i, nblocks = len / 4;

	for (i = 0; i < nblocks; i++) {
		k = get32(p + 4 * i) * c1;
		k = rotl32(k, 15) * c2;
		h ^= k;
		h = rotl32(h, 13) * 5 + 0xe6546b64u;
	}
	p += nblocks * 4;
	k = 0;
	switch (len & 3) {
	case 3:
		k ^= (uint32_t)p[2] << 16;
		/* fallthrough */
	case 2:
		k ^= (uint32_t)p[1] << 8;
		/* fallthrough */
	case 1:
		k ^= p[0];
		k = rotl32(k * c1, 15) * c2;
		h ^= k;
	}
	h ^= (uint32_t)len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                   \
	do {                                                       \
		v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32); \
		v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;           \
		v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;           \
		v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32); \
	} while (0)

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

uint64_t uk_siphash24(const void *buf, size_t len, const uint8_t key[16])
{
	const uint8_t *p = buf;
	uint64_t k0 = get64(key), k1 = get64(key + 8), m, b = (uint64_t)len << 56;
	uint64_t v0 = 0x736f6d6570736575UL ^ k0, v1 = 0x646f72616e646f6dUL ^ k1;
	uint64_t v2 = 0x6c7967656e657261UL ^ k0, v3 = 0x7465646279746573UL ^ k1;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = get64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (; tail; tail--)
		b |= (uint64_t)p[i + tail - 1] << (8 * (tail - 1));
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char hex_lower[] = "0123456789abcdef";

size_t uk_base64_encode(const void *in, size_t len, char *out)
{
	const uint8_t *p = in;
	size_t i, n = 0;
	uint32_t v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[n++] = b64_alphabet[v >> 18];
		out[n++] = b64_alphabet[(v >> 12) & 63];
		out[n++] = b64_alphabet[(v >> 6) & 63];
		out[n++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		out[n++] = b64_alphabet[v >> 18];
		out[n++] = b64_alphabet[(v >> 12) & 63];
		out[n++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[n++] = '=';
	}
	out[n] = '\0';
	return n;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Returns the decoded length, or -1 on a malformed input. */
long uk_base64_decode(const char *in, size_t len, void *out)
{
	uint8_t *o = out;
	uint32_t acc = 0;
	int bits = 0, v;
	long n = 0;
	size_t i;

	for (i = 0; i < len && in[i] != '='; i++) {
		v = b64_value(in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n;
}

void uk_hex_encode(const void *in, size_t len, char *out)
{
	const uint8_t *p = in;
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex_lower[p[i] >> 4];
		out[2 * i + 1] = hex_lower[p[i] & 15];
	}
	out[2 * len] = '\0';
}
