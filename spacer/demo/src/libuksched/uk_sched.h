#ifndef UK_SCHED_H
#define UK_SCHED_H
typedef void (*uk_thread_fn_t)(void *arg);
int uk_thread_create(uk_thread_fn_t fn, void *arg);
void uk_sched_yield(void);
/* Runs the created threads round-robin until all have returned. */
int uk_sched_run(void);
#endif
