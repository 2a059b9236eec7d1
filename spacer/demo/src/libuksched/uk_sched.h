#ifndef UK_SCHED_H
#define UK_SCHED_H
typedef void (*uk_thread_fn_t)(void *arg);
int uk_thread_create(uk_thread_fn_t fn, void *arg);
int uk_thread_create_named(const char *name, uk_thread_fn_t fn, void *arg, int prio);
void uk_sched_yield(void);
/* Runs the created threads until all have returned (or all are blocked);
 * returns the number of switches into threads. */
int uk_sched_run(void);
int uk_thread_self(void);
const char *uk_thread_name(int tid);
void uk_thread_exit(int code) __attribute__((noreturn));
/* Waits (from a thread) for tid to finish; returns its exit code. */
int uk_thread_join(int tid);
/* Virtual time in ticks: advances only when every live thread sleeps. */
unsigned long uk_sched_ticks(void);
void uk_sleep(unsigned long ticks);

struct uk_waitq {
	int head, tail;
};
struct uk_semaphore {
	long count;
	struct uk_waitq wq;
};
struct uk_mutex {
	int owner, depth;
	struct uk_waitq wq;
};
void uk_semaphore_init(struct uk_semaphore *s, long count);
void uk_semaphore_down(struct uk_semaphore *s);
int uk_semaphore_down_try(struct uk_semaphore *s);
void uk_semaphore_up(struct uk_semaphore *s);
void uk_mutex_init(struct uk_mutex *m);
void uk_mutex_lock(struct uk_mutex *m);
int uk_mutex_trylock(struct uk_mutex *m);
void uk_mutex_unlock(struct uk_mutex *m);

struct uk_sched_stats {
	unsigned long switches, yields, sleeps, blocks, wakeups, idle_jumps;
	int threads, live;
};
void uk_sched_stats(struct uk_sched_stats *st);
#endif
