#ifndef UK_HASH_H
#define UK_HASH_H
#include <stdint.h>
#include <stddef.h>
uint32_t uk_crc32(const void *buf, size_t len);
uint32_t uk_crc32c(const void *buf, size_t len);
uint16_t uk_crc16_ccitt(const void *buf, size_t len);
uint32_t uk_adler32(const void *buf, size_t len);
uint32_t uk_fnv1a(const void *buf, size_t len);
uint64_t uk_fnv1a64(const void *buf, size_t len);
uint32_t uk_djb2(const char *s);
uint32_t uk_murmur3_32(const void *buf, size_t len, uint32_t seed);
uint64_t uk_siphash24(const void *buf, size_t len, const uint8_t key[16]);
/* Thread-local FNV offset basis (.tdata): this library brings its own TLS. */
extern __thread uint32_t uk_hash_seed;

struct uk_sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
};
void uk_sha256_init(struct uk_sha256 *s);
void uk_sha256_update(struct uk_sha256 *s, const void *data, size_t len);
void uk_sha256_final(struct uk_sha256 *s, uint8_t out[32]);
void uk_sha256(const void *data, size_t len, uint8_t out[32]);
void uk_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
		    uint8_t out[32]);

size_t uk_base64_encode(const void *in, size_t len, char *out);
long uk_base64_decode(const char *in, size_t len, void *out);
void uk_hex_encode(const void *in, size_t len, char *out);

/* Known-answer checks of every algorithm; 0 when all pass. */
int uk_hash_selftest(void);
#endif
