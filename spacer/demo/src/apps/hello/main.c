/* The smallest app: one line, one exit code. */
#include <stdio.h>

int main(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	printf("hello: Hello from the spacer demo fleet!\n");
	return 3;
}
