/* Lists the libraries linked into this image from .uk_libinfo. */
#include <stdio.h>
#include <uk_libinfo.h>
#include <uk_plat.h>
#include <uk_sched.h>
#include <uk_alloc.h>

static int ticks;

static void tick(void *arg)
{
	(void)arg;
	ticks++;
}

int main(int argc, char *argv[])
{
	int i, n = uk_libinfo_count();

	(void)argc;
	(void)argv;
	uk_thread_create(tick, NULL);
	uk_sched_run();
	printf("libinfo: %d libs:", n);
	for (i = 0; i < n; i++)
		printf(" %s", uk_libinfo_get(i)->name);
	printf(" inits=%d ticks=%d\n", ukboot_inits_run(), ticks);
	return 12;
}
