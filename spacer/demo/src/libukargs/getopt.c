/* getopt_long-style option parsing, help text, and key=value parameters. */
#include <uk_args.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <ctype.h>

void uk_opt_init(struct uk_optstate *st)
{
	st->ind = 1;
	st->pos = 0;
	st->arg = NULL;
	st->opt = 0;
}

static int is_option(const char *s)
{
	return s[0] == '-' && s[1] != '\0';
}

/* Rotates argv[from..to] so argv[to] comes first. */
static void rotate_in(char **argv, int from, int to)
{
	char *t = argv[to];
	int i;

	for (i = to; i > from; i--)
		argv[i] = argv[i - 1];
	argv[from] = t;
}

static int long_option(int argc, char **argv, const struct uk_option *opts,
		       struct uk_optstate *st)
{
	const char *name = argv[st->ind] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct uk_option *o, *match = NULL;
	int ambiguous = 0;

	st->ind++;
	for (o = opts; o && (o->name || o->val); o++) {
		if (!o->name || strncmp(o->name, name, len))
			continue;
		if (strlen(o->name) == len) {
			match = o;
			ambiguous = 0;
			break;
		}
		if (match)
			ambiguous = 1;
		match = o;
	}
	if (!match || ambiguous) {
		st->opt = 0;
		return '?';
	}
	st->opt = match->val;
	st->arg = NULL;
	if (match->has_arg == UK_ARG_NONE) {
		if (eq)
			return '?';
	} else if (eq) {
		st->arg = eq + 1;
	} else if (match->has_arg == UK_ARG_REQUIRED) {
		if (st->ind >= argc)
			return ':';
		st->arg = argv[st->ind++];
	}
	return match->val;
}

int uk_getopt(int argc, char **argv, const char *shortopts,
	      const struct uk_option *longopts, struct uk_optstate *st)
{
	const char *spec;
	int i, c;

	st->arg = NULL;
	if (!st->pos) {
		/* Skip (permute) non-options. */
		for (i = st->ind; i < argc && !is_option(argv[i]); i++)
			;
		if (i >= argc)
			return -1;
		if (!strcmp(argv[i], "--")) {
			rotate_in(argv, st->ind, i);
			st->ind++;
			return -1;
		}
		rotate_in(argv, st->ind, i);
		if (argv[st->ind][1] == '-')
			return long_option(argc, argv, longopts, st);
		st->pos = 1;
	}
	c = (unsigned char)argv[st->ind][st->pos++];
	spec = c != ':' ? strchr(shortopts, c) : NULL;
	st->opt = c;
	if (!spec) {
		if (!argv[st->ind][st->pos]) {
			st->ind++;
			st->pos = 0;
		}
		return '?';
	}
	if (spec[1] == ':') {
		if (argv[st->ind][st->pos]) {
			st->arg = argv[st->ind] + st->pos;
		} else if (spec[2] != ':') {
			if (st->ind + 1 >= argc) {
				st->ind++;
				st->pos = 0;
				return ':';
			}
			st->arg = argv[++st->ind];
		}
		st->ind++;
		st->pos = 0;
		return c;
	}
	if (!argv[st->ind][st->pos]) {
		st->ind++;
		st->pos = 0;
	}
	return c;
}

int uk_opt_help(const struct uk_option *opts, char *buf, unsigned long size)
{
	unsigned long len = 0;
	char left[48];
	const struct uk_option *o;

	for (o = opts; o->name || o->val; o++) {
		int n = 0;

		if (isprint(o->val))
			n = snprintf(left, sizeof(left), "-%c%s", o->val, o->name ? ", " : "");
		else
			n = snprintf(left, sizeof(left), "    ");
		if (o->name)
			snprintf(left + n, sizeof(left) - (unsigned long)n, "--%s%s", o->name,
				 o->has_arg == UK_ARG_REQUIRED ? "=ARG" :
				 o->has_arg == UK_ARG_OPTIONAL ? "[=ARG]" : "");
		len += (unsigned long)snprintf(len < size ? buf + len : NULL,
					       len < size ? size - len : 0, "  %-28s %s\n", left,
					       o->help ? o->help : "");
	}
	return (int)len;
}

int uk_param_get(char *const *argv, int argc, const char *key, const char **value)
{
	size_t klen = strlen(key);
	int i;

	for (i = argc - 1; i >= 0; i--) {
		if (!strncmp(argv[i], key, klen) && argv[i][klen] == '=') {
			*value = argv[i] + klen + 1;
			return 1;
		}
		if (!strcmp(argv[i], key)) {
			*value = "";
			return 1;
		}
	}
	return 0;
}

long uk_parse_size(const char *s)
{
	char *end;
	long v = strtol(s, &end, 0);

	switch (tolower((unsigned char)*end)) {
	case 'g':
		v <<= 10;
		/* fallthrough */
	case 'm':
		v <<= 10;
		/* fallthrough */
	case 'k':
		v <<= 10;
		end++;
		break;
	}
	return *end && tolower((unsigned char)*end) != 'b' ? -1 : v;
}

long uk_param_long(char *const *argv, int argc, const char *key, long def)
{
	const char *v;
	long n;

	if (!uk_param_get(argv, argc, key, &v) || !*v)
		return def;
	n = uk_parse_size(v);
	return n < 0 ? def : n;
}

int uk_param_bool(char *const *argv, int argc, const char *key, int def)
{
	static const char *const yes[] = { "", "1", "y", "yes", "on", "true" };
	static const char *const no[] = { "0", "n", "no", "off", "false" };
	const char *v;
	unsigned int i;

	if (!uk_param_get(argv, argc, key, &v))
		return def;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcasecmp(v, yes[i]))
			return 1;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcasecmp(v, no[i]))
			return 0;
	return def;
}
