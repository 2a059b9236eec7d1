#ifndef UK_ALLOC_H
#define UK_ALLOC_H
#include <stddef.h>
void *uk_malloc(size_t size);
void *uk_calloc(size_t n, size_t size);
void *uk_realloc(void *ptr, size_t size);
void *uk_memalign(size_t align, size_t size);
int uk_posix_memalign(void **out, size_t align, size_t size);
void uk_free(void *ptr);
size_t uk_malloc_usable_size(const void *ptr);
size_t uk_alloc_free_bytes(void);

struct uk_alloc_stats {
	size_t heap_size, free_bytes, used_bytes, largest_free;
	unsigned long allocs, frees, splits, merges, failures;
	unsigned int free_blocks[20];	/* per order */
};
void uk_alloc_stats(struct uk_alloc_stats *st);
/* Walks the free lists and the heap; returns 0 when consistent. */
int uk_alloc_check(void);
#endif
