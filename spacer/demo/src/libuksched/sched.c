/* Cooperative round-robin scheduler over a fixed pool of threads. */
#include <uk_sched.h>
#include <uk_init.h>
#include <uk_plat.h>
#include <stdint.h>
#include <errno.h>

#define MAX_THREADS 8
#define STACK_SIZE 8192

struct thread {
	unsigned long sp;
	uk_thread_fn_t fn;
	void *arg;
	int done;
};

void uk_ctx_switch(unsigned long *prev_sp, unsigned long next_sp);
void uk_ctx_trampoline(void);
void uk_thread_main(struct thread *t) __attribute__((noreturn));

static struct thread threads[MAX_THREADS];
static unsigned char stacks[MAX_THREADS][STACK_SIZE] __attribute__((aligned(16)));
static int nthreads, current = -1;
static unsigned long sched_sp;

UK_LIBINFO("uksched", "0.17.0");

static int uksched_init(void)
{
	nthreads = 0;
	current = -1;
	return 0;
}
UK_INIT_CLASS(uksched_init, 2);

int uk_thread_create(uk_thread_fn_t fn, void *arg)
{
	struct thread *t;
	unsigned long *sp;
	int i;

	if (nthreads == MAX_THREADS) {
		errno = ENOMEM;
		return -1;
	}
	t = &threads[nthreads];
	t->fn = fn;
	t->arg = arg;
	t->done = 0;
	/* Frame popped by uk_ctx_switch: r15 r14 r13 r12 rbx rbp, return address;
	 * after that ret %rsp is 16-aligned, as the trampoline's call expects. */
	sp = (unsigned long *)(stacks[nthreads] + STACK_SIZE);
	*--sp = (unsigned long)uk_ctx_trampoline;
	*--sp = 0;
	*--sp = (unsigned long)t;
	for (i = 0; i < 4; i++)
		*--sp = 0;
	t->sp = (unsigned long)sp;
	return nthreads++;
}

void uk_sched_yield(void)
{
	if (current >= 0)
		uk_ctx_switch(&threads[current].sp, sched_sp);
}

void uk_thread_main(struct thread *t)
{
	t->fn(t->arg);
	t->done = 1;
	uk_sched_yield();
	ukplat_halt();
}

int uk_sched_run(void)
{
	int alive, switches = 0;

	do {
		alive = 0;
		for (current = 0; current < nthreads; current++) {
			if (threads[current].done)
				continue;
			alive = 1;
			switches++;
			uk_ctx_switch(&sched_sp, threads[current].sp);
		}
	} while (alive);
	current = -1;
	return switches;
}
