#ifndef UK_ALLOC_H
#define UK_ALLOC_H
#include <stddef.h>
void *uk_malloc(size_t size);
void *uk_calloc(size_t n, size_t size);
void uk_free(void *ptr);
size_t uk_alloc_free_bytes(void);
#endif
