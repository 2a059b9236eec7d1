/* The smallest app: one line, one exit code. */
#include <stdio.h>

int nolibc_selftest(void);

int main(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	if (nolibc_selftest())
		printf("hello: nolibc selftest failed\n");
	printf("hello: Hello from the spacer demo fleet!\n");
	return 3;
}
