/* A first-fit free-list allocator over a static heap in .bss. */
#include <uk_alloc.h>
#include <uk_init.h>
#include <string.h>
#include <stdint.h>
#include <errno.h>

#ifndef CONFIG_UKALLOC_HEAP_SIZE
#define CONFIG_UKALLOC_HEAP_SIZE (256 * 1024)
#endif
#define ALIGN_UP(x) (((x) + 15) & ~(size_t)15)

struct block {
	size_t size;		/* payload bytes */
	struct block *next;	/* next free block, when free */
};

static unsigned char heap[CONFIG_UKALLOC_HEAP_SIZE] __attribute__((aligned(16)));
static size_t heap_top;
static struct block *free_list;

UK_LIBINFO("ukalloc", "0.17.0");

static int ukalloc_init(void)
{
	heap_top = 0;
	free_list = NULL;
	return 0;
}
UK_INIT_CLASS(ukalloc_init, 1);

void *uk_malloc(size_t size)
{
	struct block **pp, *b;
	size_t need = ALIGN_UP(size ? size : 1);

	for (pp = &free_list; *pp; pp = &(*pp)->next) {
		if ((*pp)->size >= need) {
			b = *pp;
			*pp = b->next;
			return b + 1;
		}
	}
	if (heap_top + sizeof(struct block) + need > sizeof(heap)) {
		errno = ENOMEM;
		return NULL;
	}
	b = (struct block *)(heap + heap_top);
	b->size = need;
	heap_top += sizeof(struct block) + need;
	return b + 1;
}

void *uk_calloc(size_t n, size_t size)
{
	void *p = uk_malloc(n * size);

	if (p)
		memset(p, 0, n * size);
	return p;
}

void uk_free(void *ptr)
{
	struct block *b;

	if (!ptr)
		return;
	b = (struct block *)ptr - 1;
	b->next = free_list;
	free_list = b;
}

size_t uk_alloc_free_bytes(void)
{
	return sizeof(heap) - heap_top;
}
