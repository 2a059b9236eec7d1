/* Two cooperative threads take turns writing into a shared buffer. */
#include <stdio.h>
#include <string.h>
#include <uk_alloc.h>
#include <uk_sched.h>

static char *trace;
static size_t trace_len;

static void worker(void *arg)
{
	const char *name = arg;
	int i;

	for (i = 0; i < 3; i++) {
		trace_len += (size_t)snprintf(trace + trace_len, 64, " %s%d", name, i);
		uk_sched_yield();
	}
}

int main(int argc, char *argv[])
{
	int switches;

	(void)argc;
	(void)argv;
	trace = uk_malloc(256);
	trace[0] = '\0';
	uk_thread_create(worker, "a");
	uk_thread_create(worker, "b");
	switches = uk_sched_run();
	printf("sched:%s switches=%d\n", trace, switches);
	uk_free(trace);
	return 6;
}
