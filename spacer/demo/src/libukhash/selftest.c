/* Known-answer tests (published check values) for every hash here. */
#include <uk_hash.h>
#include <string.h>

static const char check[] = "123456789";
static const char abc_sha256[] =
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char empty_sha256[] =
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

int uk_hash_selftest(void)
{
	uint8_t digest[32], key[16], raw[16];
	char hex[65], b64[32];
	int fails = 0, i;

	fails += uk_crc32(check, 9) != 0xcbf43926u;
	fails += uk_crc32c(check, 9) != 0xe3069283u;
	fails += uk_crc16_ccitt(check, 9) != 0x29b1;
	fails += uk_adler32("Wikipedia", 9) != 0x11e60398u;
	fails += uk_fnv1a64(check, 9) != 0x06d5573923c6cdfcUL;
	fails += uk_murmur3_32("", 0, 0) != 0;
	fails += uk_murmur3_32("hello", 5, 0) != 0x248bfa47u;
	uk_sha256("abc", 3, digest);
	uk_hex_encode(digest, 32, hex);
	fails += strcmp(hex, abc_sha256) != 0;
	uk_sha256("", 0, digest);
	uk_hex_encode(digest, 32, hex);
	fails += strcmp(hex, empty_sha256) != 0;
	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 15; i++)
		raw[i] = (uint8_t)i;
	fails += uk_siphash24(raw, 15, key) != 0xa129ca6149be45e5UL;
	uk_base64_encode("spacer", 6, b64);
	fails += strcmp(b64, "c3BhY2Vy") != 0;
	fails += uk_base64_decode(b64, strlen(b64), raw) != 6 || memcmp(raw, "spacer", 6);
	return fails;
}
