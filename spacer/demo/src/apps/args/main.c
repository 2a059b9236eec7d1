/* Splits a quoted command line, reads the boot command line, and shows
 * that errno (thread-local) works. */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <uk_args.h>

int main(int argc, char *argv[])
{
	char line[] = "one \"two three\" four";
	char *words[8], *boot[16];
	int n, nboot;

	(void)argc;
	(void)argv;
	n = uk_argparse(line, words, 8);
	/* QEMU passes the kernel path as the first word of the command line. */
	nboot = uk_args_boot(boot, 16);
	errno = 0;
	strtol("99999999999999999999999", NULL, 10);
	printf("args: %d [%s|%s|%s] extra=%d errno=%d\n", n, words[0], words[1],
	       words[2], nboot > 0 ? nboot - 1 : 0, errno);
	return 10;
}
