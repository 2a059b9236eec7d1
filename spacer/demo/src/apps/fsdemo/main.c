/* Writes two files to ramfs, reads them back and checksums them. */
#include <stdio.h>
#include <string.h>
#include <ramfs.h>
#include <uk_hash.h>

int main(int argc, char *argv[])
{
	char buf[128];
	int a, b;
	long n;

	(void)argc;
	(void)argv;
	a = ramfs_open("/etc/motd", 1);
	b = ramfs_open("/tmp/log", 1);
	ramfs_write(a, "spacer shares pages", 19);
	ramfs_write(b, "line one\n", 9);
	ramfs_write(b, "line two\n", 9);
	n = ramfs_read(b, buf, sizeof(buf), 0);
	printf("fsdemo: files=%d motd=%ld log=%ld crc=%08x\n", ramfs_count(),
	       ramfs_size(a), n, uk_crc32(buf, (size_t)n));
	return 7;
}
