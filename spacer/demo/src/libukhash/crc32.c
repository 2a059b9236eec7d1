/* CRC-32 (IEEE 802.3, reflected), table built at init time into .bss. */
#include <uk_hash.h>
#include <uk_init.h>

static uint32_t crc_table[256];

UK_LIBINFO("ukhash", "0.17.0");

static void crc32_table_init(void)
{
	uint32_t c, n, k;

	for (n = 0; n < 256; n++) {
		c = n;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}
UK_CTOR_PRIO(crc32_table_init, 1);

uint32_t uk_crc32(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = 0xFFFFFFFFu;

	while (len--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}
