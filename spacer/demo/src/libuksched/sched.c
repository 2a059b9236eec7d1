/* Cooperative scheduler: a fixed pool of threads, a priority-ordered FIFO
 * run queue, sleeping on a virtual tick clock, join, wait queues for
 * semaphores and recursive mutexes. */
#include <uk_sched.h>
#include <uk_init.h>
#include <uk_plat.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>

#define MAX_THREADS 8
#define STACK_SIZE 8192
#define NAME_LEN 16
#define NONE (-1)
#define STACK_CANARY 0x5354414b434e5259UL

enum state { T_FREE, T_READY, T_RUNNING, T_SLEEPING, T_BLOCKED, T_DONE };

struct thread {
	unsigned long sp;
	uk_thread_fn_t fn;
	void *arg;
	int done;
	enum state state;
	int prio;
	int next;		/* run queue / wait queue link */
	int joiner;		/* thread waiting in uk_thread_join */
	int exit_code;
	unsigned long wake_at;
	char name[NAME_LEN];
};

void uk_ctx_switch(unsigned long *prev_sp, unsigned long next_sp);
void uk_ctx_trampoline(void);
void uk_thread_main(struct thread *t) __attribute__((noreturn));

static struct thread threads[MAX_THREADS];
static unsigned char stacks[MAX_THREADS][STACK_SIZE] __attribute__((aligned(16)));
static int nthreads, current = NONE;
static unsigned long sched_sp, ticks;
static struct uk_waitq runq;
static struct uk_sched_stats stats;

UK_LIBINFO("uksched", "0.17.0");

static void waitq_init(struct uk_waitq *q)
{
	q->head = q->tail = NONE;
}

static void waitq_push(struct uk_waitq *q, int tid)
{
	threads[tid].next = NONE;
	if (q->tail == NONE)
		q->head = tid;
	else
		threads[q->tail].next = tid;
	q->tail = tid;
}

static int waitq_pop(struct uk_waitq *q)
{
	int tid = q->head;

	if (tid != NONE) {
		q->head = threads[tid].next;
		if (q->head == NONE)
			q->tail = NONE;
	}
	return tid;
}

/* Ready threads are kept sorted by priority (higher first), FIFO within. */
static void make_ready(int tid)
{
	int *link = &runq.head, prev = NONE;

	threads[tid].state = T_READY;
	while (*link != NONE && threads[*link].prio >= threads[tid].prio) {
		prev = *link;
		link = &threads[*link].next;
	}
	threads[tid].next = *link;
	*link = tid;
	if (threads[tid].next == NONE)
		runq.tail = tid;
	(void)prev;
}

static int uksched_init(void)
{
	nthreads = 0;
	current = NONE;
	ticks = 0;
	waitq_init(&runq);
	memset(&stats, 0, sizeof(stats));
	return 0;
}
UK_INIT_CLASS(uksched_init, 2);

static int alloc_slot(void)
{
	int i;

	for (i = 0; i < nthreads; i++)
		if (threads[i].state == T_FREE)
			return i;
	if (nthreads == MAX_THREADS)
		return NONE;
	return nthreads++;
}

int uk_thread_create_named(const char *name, uk_thread_fn_t fn, void *arg, int prio)
{
	struct thread *t;
	unsigned long *sp;
	int i, tid = alloc_slot();

	if (tid == NONE) {
		errno = ENOMEM;
		return -1;
	}
	t = &threads[tid];
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->arg = arg;
	t->prio = prio;
	t->joiner = NONE;
	strlcpy(t->name, name ? name : "thread", sizeof(t->name));
	*(unsigned long *)stacks[tid] = STACK_CANARY;
	/* Frame popped by uk_ctx_switch: r15 r14 r13 r12 rbx rbp, return address;
	 * after that ret %rsp is 16-aligned, as the trampoline's call expects. */
	sp = (unsigned long *)(stacks[tid] + STACK_SIZE);
	*--sp = (unsigned long)uk_ctx_trampoline;
	*--sp = 0;
	*--sp = (unsigned long)t;
	for (i = 0; i < 4; i++)
		*--sp = 0;
	t->sp = (unsigned long)sp;
	make_ready(tid);
	stats.threads++;
	return tid;
}

int uk_thread_create(uk_thread_fn_t fn, void *arg)
{
	return uk_thread_create_named(NULL, fn, arg, 0);
}

int uk_thread_self(void)
{
	return current;
}

const char *uk_thread_name(int tid)
{
	return tid >= 0 && tid < nthreads ? threads[tid].name : "sched";
}

/* Back to the scheduler loop; the caller has set its own state. */
static void reschedule(void)
{
	int self = current;

	if (self == NONE)
		return;
	if (*(unsigned long *)stacks[self] != STACK_CANARY)
		ukplat_panic("uksched: stack overflow in thread %s", threads[self].name);
	uk_ctx_switch(&threads[self].sp, sched_sp);
}

void uk_sched_yield(void)
{
	if (current == NONE)
		return;
	stats.yields++;
	make_ready(current);
	reschedule();
}

void uk_sleep(unsigned long n)
{
	if (current == NONE) {
		ticks += n;
		return;
	}
	stats.sleeps++;
	threads[current].state = T_SLEEPING;
	threads[current].wake_at = ticks + n;
	reschedule();
}

unsigned long uk_sched_ticks(void)
{
	return ticks;
}

void uk_thread_exit(int code)
{
	struct thread *t = &threads[current];

	t->exit_code = code;
	t->done = 1;
	t->state = T_DONE;
	if (t->joiner != NONE)
		make_ready(t->joiner);
	reschedule();
	ukplat_halt();
}

void uk_thread_main(struct thread *t)
{
	t->fn(t->arg);
	uk_thread_exit(0);
}

int uk_thread_join(int tid)
{
	int code;

	if (tid < 0 || tid >= nthreads || tid == current || threads[tid].state == T_FREE) {
		errno = EINVAL;
		return -1;
	}
	if (threads[tid].state != T_DONE) {
		if (current == NONE || threads[tid].joiner != NONE) {
			errno = EINVAL;
			return -1;
		}
		threads[tid].joiner = current;
		threads[current].state = T_BLOCKED;
		stats.blocks++;
		reschedule();
	}
	code = threads[tid].exit_code;
	threads[tid].state = T_FREE;
	return code;
}

/* Wakes sleepers whose time has come; when nothing is ready, jumps the
 * clock to the earliest wake-up. Returns 0 when no thread can run again. */
static int wake_sleepers(void)
{
	unsigned long earliest = ~0UL;
	int i, woke = 0;

	for (;;) {
		for (i = 0; i < nthreads; i++) {
			if (threads[i].state != T_SLEEPING)
				continue;
			if (threads[i].wake_at <= ticks) {
				make_ready(i);
				stats.wakeups++;
				woke = 1;
			} else if (threads[i].wake_at < earliest) {
				earliest = threads[i].wake_at;
			}
		}
		if (woke || runq.head != NONE)
			return 1;
		if (earliest == ~0UL)
			return 0;
		ticks = earliest;
		stats.idle_jumps++;
		earliest = ~0UL;
	}
}

int uk_sched_run(void)
{
	int switches = 0, tid;

	while (wake_sleepers()) {
		tid = waitq_pop(&runq);
		if (tid == NONE)
			continue;
		current = tid;
		threads[tid].state = T_RUNNING;
		switches++;
		stats.switches++;
		uk_ctx_switch(&sched_sp, threads[tid].sp);
		current = NONE;
		if (runq.head == NONE)
			ticks++;
	}
	current = NONE;
	return switches;
}

void uk_semaphore_init(struct uk_semaphore *s, long count)
{
	s->count = count;
	waitq_init(&s->wq);
}

int uk_semaphore_down_try(struct uk_semaphore *s)
{
	if (s->count > 0) {
		s->count--;
		return 1;
	}
	return 0;
}

void uk_semaphore_down(struct uk_semaphore *s)
{
	while (!uk_semaphore_down_try(s)) {
		if (current == NONE)
			ukplat_panic("uksched: semaphore would block outside a thread");
		threads[current].state = T_BLOCKED;
		stats.blocks++;
		waitq_push(&s->wq, current);
		reschedule();
	}
}

void uk_semaphore_up(struct uk_semaphore *s)
{
	int tid;

	s->count++;
	tid = waitq_pop(&s->wq);
	if (tid != NONE) {
		stats.wakeups++;
		make_ready(tid);
	}
}

void uk_mutex_init(struct uk_mutex *m)
{
	m->owner = NONE;
	m->depth = 0;
	waitq_init(&m->wq);
}

int uk_mutex_trylock(struct uk_mutex *m)
{
	if (m->owner == NONE || m->owner == current) {
		m->owner = current;
		m->depth++;
		return 1;
	}
	return 0;
}

void uk_mutex_lock(struct uk_mutex *m)
{
	while (!uk_mutex_trylock(m)) {
		threads[current].state = T_BLOCKED;
		stats.blocks++;
		waitq_push(&m->wq, current);
		reschedule();
	}
}

void uk_mutex_unlock(struct uk_mutex *m)
{
	int tid;

	if (m->owner != current || m->depth <= 0) {
		errno = EPERM;
		return;
	}
	if (--m->depth)
		return;
	m->owner = NONE;
	tid = waitq_pop(&m->wq);
	if (tid != NONE)
		make_ready(tid);
}

void uk_sched_stats(struct uk_sched_stats *st)
{
	int i;

	stats.live = 0;
	for (i = 0; i < nthreads; i++)
		stats.live += threads[i].state != T_FREE && threads[i].state != T_DONE;
	*st = stats;
}
