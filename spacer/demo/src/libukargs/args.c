/* Command line splitting, as ukargparse does for Unikraft. */
#include <uk_args.h>
#include <uk_init.h>
#include <uk_plat.h>
#include <string.h>

#define CMDLINE_MAX 1024

static char cmdline_copy[CMDLINE_MAX];

UK_LIBINFO("ukargs", "0.17.0");

int uk_argparse(char *s, char **argv, int max)
{
	int argc = 0, quoted;
	char *out;

	while (*s && argc < max) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		argv[argc++] = out = s;
		quoted = 0;
		for (; *s && (quoted || *s != ' '); s++) {
			if (*s == '"')
				quoted = !quoted;
			else
				*out++ = *s;
		}
		if (*s)
			s++;
		*out = '\0';
	}
	return argc;
}

int uk_args_boot(char **argv, int max)
{
	const char *c = ukplat_cmdline();
	size_t n = strlen(c);

	if (n >= CMDLINE_MAX)
		n = CMDLINE_MAX - 1;
	memcpy(cmdline_copy, c, n);
	cmdline_copy[n] = '\0';
	return uk_argparse(cmdline_copy, argv, max);
}
