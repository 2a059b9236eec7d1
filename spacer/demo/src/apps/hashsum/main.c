/* Checks crc32 and fnv1a against their published check values. */
#include <stdio.h>
#include <string.h>
#include <uk_hash.h>

int main(int argc, char *argv[])
{
	const char *check = "123456789";

	(void)argc;
	(void)argv;
	if (uk_hash_selftest())
		printf("hashsum: selftest failed\n");
	printf("hashsum: crc32=%08x fnv1a=%08x\n", uk_crc32(check, strlen(check)),
	       uk_fnv1a(check, strlen(check)));
	return 5;
}
