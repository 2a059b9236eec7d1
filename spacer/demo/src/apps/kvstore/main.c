/* A chained hash table on the heap; same library set as counter (SaaS). */
#include <stdio.h>
#include <string.h>
#include <uk_alloc.h>
#include <uk_hash.h>
#include <ramfs.h>
#include <uk_args.h>

#define BUCKETS 16

struct node {
	struct node *next;
	const char *key;
	int value;
};

static struct node *table[BUCKETS];

static void put(const char *key, int value)
{
	unsigned int h = uk_fnv1a(key, strlen(key)) % BUCKETS;
	struct node *n = uk_malloc(sizeof(*n));

	n->key = key;
	n->value = value;
	n->next = table[h];
	table[h] = n;
}

static int get(const char *key)
{
	struct node *n = table[uk_fnv1a(key, strlen(key)) % BUCKETS];

	for (; n; n = n->next)
		if (!strcmp(n->key, key))
			return n->value;
	return -1;
}

int main(int argc, char *argv[])
{
	char line[64];
	int fd;

	(void)argc;
	(void)argv;
	put("alpha", 1);
	put("beta", 22);
	put("gamma", 333);
	fd = ramfs_open("/kv.log", 1);
	snprintf(line, sizeof(line), "beta=%d", get("beta"));
	ramfs_write(fd, line, strlen(line));
	printf("kvstore: alpha=%d gamma=%d delta=%d log=%ld\n", get("alpha"),
	       get("gamma"), get("delta"), ramfs_size(fd));
	return 8;
}
