/* Counts words of a text stored in ramfs; same library set as kvstore. */
#include <stdio.h>
#include <string.h>
#include <uk_alloc.h>
#include <uk_hash.h>
#include <ramfs.h>
#include <uk_args.h>

static const char text[] =
	"the quick brown fox jumps over the lazy dog the end";

int main(int argc, char *argv[])
{
	char *copy, *words[32];
	int fd, n, i, the = 0;

	(void)argc;
	(void)argv;
	fd = ramfs_open("/text", 1);
	ramfs_write(fd, text, sizeof(text) - 1);
	copy = uk_calloc(1, sizeof(text));
	ramfs_read(fd, copy, sizeof(text) - 1, 0);
	n = uk_argparse(copy, words, 32);
	for (i = 0; i < n; i++)
		the += !strcmp(words[i], "the");
	printf("counter: words=%d the=%d crc=%08x\n", n, the,
	       uk_crc32(text, sizeof(text) - 1));
	return 9;
}
