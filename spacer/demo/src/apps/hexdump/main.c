/* Built against the NOLIBC_UPPER_HEX variant of nolibc: %x prints A-F. */
#include <stdio.h>
#include <stdint.h>

static const uint32_t words[] = { 0xcafebabe, 0xdeadbeef, 0x1badb002 };

int main(int argc, char *argv[])
{
	unsigned int i;

	(void)argc;
	(void)argv;
	printf("hexdump:");
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		printf(" %08x", words[i]);
	printf("\n");
	return 4;
}
