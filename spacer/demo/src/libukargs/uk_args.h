#ifndef UK_ARGS_H
#define UK_ARGS_H
/* Splits a command line in place on spaces, honouring double quotes. */
int uk_argparse(char *cmdline, char **argv, int max);
/* Parses the boot command line (multiboot) into a static copy. */
int uk_args_boot(char **argv, int max);
#endif
