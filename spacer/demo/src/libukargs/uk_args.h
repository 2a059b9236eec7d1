#ifndef UK_ARGS_H
#define UK_ARGS_H
/* Splits a command line in place on spaces, honouring double quotes. */
int uk_argparse(char *cmdline, char **argv, int max);
/* Parses the boot command line (multiboot) into a static copy. */
int uk_args_boot(char **argv, int max);

/* Option parsing, getopt_long style. */
#define UK_ARG_NONE 0
#define UK_ARG_REQUIRED 1
#define UK_ARG_OPTIONAL 2
struct uk_option {
	const char *name;	/* long name, or NULL */
	int has_arg;
	int val;		/* returned value (short option character) */
	const char *help;
};
struct uk_optstate {
	int ind;		/* next argv index */
	int pos;		/* position inside a short option cluster */
	const char *arg;	/* argument of the last option */
	int opt;		/* the offending option on '?' or ':' */
};
void uk_opt_init(struct uk_optstate *st);
/* Returns the option's val, -1 at the end, '?' unknown, ':' missing arg.
 * Non-option arguments are moved to the end of argv (GNU permutation). */
int uk_getopt(int argc, char **argv, const char *shortopts,
	      const struct uk_option *longopts, struct uk_optstate *st);
int uk_opt_help(const struct uk_option *opts, char *buf, unsigned long size);

/* key=value library parameters ("alloc.heap=64k sched.quantum=3"). */
int uk_param_get(char *const *argv, int argc, const char *key, const char **value);
long uk_param_long(char *const *argv, int argc, const char *key, long def);
int uk_param_bool(char *const *argv, int argc, const char *key, int def);
/* "4096", "64k", "2M", "1G" */
long uk_parse_size(const char *s);
#endif
