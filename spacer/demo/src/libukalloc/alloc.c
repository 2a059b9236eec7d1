/* A binary buddy allocator over a static heap in .bss: blocks of 2^k bytes
 * (32 B .. the heap size), a 16-byte header in front of each, doubly linked
 * free lists per order, buddies merged on free. */
#include <uk_alloc.h>
#include <uk_init.h>
#include <string.h>
#include <stdint.h>
#include <errno.h>

#ifndef CONFIG_UKALLOC_HEAP_SIZE
#define CONFIG_UKALLOC_HEAP_SIZE (256 * 1024)
#endif
#define MIN_ORDER 5
#define MAX_ORDER 18	/* 2^18 = 256 KiB, the whole heap */
#define NORDERS (MAX_ORDER + 1)
#define MAGIC_USED 0x55534544u
#define MAGIC_FREE 0x46524545u

struct block {
	uint32_t magic;
	uint32_t order;
	/* Free blocks only: list links in the payload area. */
	struct block *next, *prev;
};

#define HDR 16	/* payload starts 16 bytes in, keeping 16-byte alignment */

static unsigned char heap[CONFIG_UKALLOC_HEAP_SIZE] __attribute__((aligned(4096)));
static struct block *free_lists[NORDERS];
static struct uk_alloc_stats stats;

UK_LIBINFO("ukalloc", "0.17.0");

static void list_push(struct block *b, unsigned int order)
{
	b->magic = MAGIC_FREE;
	b->order = order;
	b->prev = NULL;
	b->next = free_lists[order];
	if (b->next)
		b->next->prev = b;
	free_lists[order] = b;
}

static void list_remove(struct block *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		free_lists[b->order] = b->next;
	if (b->next)
		b->next->prev = b->prev;
}

static struct block *buddy_of(struct block *b, unsigned int order)
{
	uintptr_t off = (uintptr_t)((unsigned char *)b - heap);

	return (struct block *)(heap + (off ^ ((uintptr_t)1 << order)));
}

/* Carves the heap into the largest aligned power-of-two blocks. */
static int ukalloc_init(void)
{
	size_t off = 0, size;
	unsigned int order;

	memset(free_lists, 0, sizeof(free_lists));
	memset(&stats, 0, sizeof(stats));
	stats.heap_size = sizeof(heap);
	while (off + ((size_t)1 << MIN_ORDER) <= sizeof(heap)) {
		for (order = MAX_ORDER; order > MIN_ORDER; order--) {
			size = (size_t)1 << order;
			if (!(off & (size - 1)) && off + size <= sizeof(heap))
				break;
		}
		list_push((struct block *)(heap + off), order);
		off += (size_t)1 << order;
	}
	return 0;
}
UK_INIT_CLASS(ukalloc_init, 1);

static unsigned int order_for(size_t size)
{
	unsigned int order = MIN_ORDER;

	if (size > ((size_t)1 << MAX_ORDER) - HDR)
		return NORDERS;
	while (((size_t)1 << order) - HDR < size)
		order++;
	return order;
}

static struct block *take(unsigned int order)
{
	unsigned int k = order;
	struct block *b;

	while (k < NORDERS && !free_lists[k])
		k++;
	if (k >= NORDERS)
		return NULL;
	b = free_lists[k];
	list_remove(b);
	while (k > order) {
		k--;
		list_push((struct block *)((unsigned char *)b + ((size_t)1 << k)), k);
		stats.splits++;
	}
	b->magic = MAGIC_USED;
	b->order = order;
	return b;
}

void *uk_malloc(size_t size)
{
	unsigned int order = order_for(size ? size : 1);
	struct block *b = order < NORDERS ? take(order) : NULL;

	if (!b) {
		stats.failures++;
		errno = ENOMEM;
		return NULL;
	}
	stats.allocs++;
	return (unsigned char *)b + HDR;
}

static struct block *header(const void *ptr)
{
	struct block *b = (struct block *)((unsigned char *)ptr - HDR);

	if ((unsigned char *)b < heap || (unsigned char *)b >= heap + sizeof(heap) ||
	    b->magic != MAGIC_USED)
		return NULL;
	return b;
}

void uk_free(void *ptr)
{
	struct block *b, *buddy;
	unsigned int order;

	if (!ptr)
		return;
	b = header(ptr);
	if (!b) {
		errno = EINVAL;
		return;
	}
	stats.frees++;
	order = b->order;
	while (order < MAX_ORDER) {
		buddy = buddy_of(b, order);
		if ((unsigned char *)buddy + ((size_t)1 << order) > heap + sizeof(heap) ||
		    buddy->magic != MAGIC_FREE || buddy->order != order)
			break;
		list_remove(buddy);
		if (buddy < b)
			b = buddy;
		order++;
		stats.merges++;
	}
	list_push(b, order);
}

void *uk_calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	p = uk_malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

size_t uk_malloc_usable_size(const void *ptr)
{
	struct block *b = ptr ? header(ptr) : NULL;

	return b ? ((size_t)1 << b->order) - HDR : 0;
}

/* Shrinks in place by splitting off upper halves; grows in place when the
 * buddy above is free and large enough, else moves. */
void *uk_realloc(void *ptr, size_t size)
{
	struct block *b, *buddy;
	unsigned int order, want;
	void *p;

	if (!ptr)
		return uk_malloc(size);
	if (!size) {
		uk_free(ptr);
		return NULL;
	}
	b = header(ptr);
	if (!b) {
		errno = EINVAL;
		return NULL;
	}
	want = order_for(size);
	if (want >= NORDERS) {
		errno = ENOMEM;
		return NULL;
	}
	order = b->order;
	while (order > want) {
		order--;
		list_push((struct block *)((unsigned char *)b + ((size_t)1 << order)), order);
		stats.splits++;
	}
	while (order < want) {
		buddy = buddy_of(b, order);
		if (buddy < b || buddy->magic != MAGIC_FREE || buddy->order != order)
			break;
		list_remove(buddy);
		order++;
		stats.merges++;
	}
	b->order = order;
	if (order >= want)
		return ptr;
	p = uk_malloc(size);
	if (p) {
		memcpy(p, ptr, ((size_t)1 << order) - HDR);
		uk_free(ptr);
	}
	return p;
}

/* Buddy blocks of order k are 2^k aligned, so the payload is aligned to
 * align when the block is at least align + HDR and we step inside... which
 * a buddy cannot do: allocate 2*align and return an aligned interior
 * pointer whose header is rewritten as a used sub-block. */
void *uk_memalign(size_t align, size_t size)
{
	unsigned char *p;
	struct block *b;
	unsigned int order;

	if (align & (align - 1)) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= HDR)
		return uk_malloc(size);
	order = order_for(size + align);
	if (order >= NORDERS) {
		errno = ENOMEM;
		return NULL;
	}
	b = take(order);
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	stats.allocs++;
	/* Split off lower halves until the payload is aligned. */
	p = (unsigned char *)b;
	while (((uintptr_t)(p + HDR) & (align - 1)) && order > MIN_ORDER) {
		order--;
		list_push((struct block *)p, order);
		p += (size_t)1 << order;
		stats.splits++;
	}
	b = (struct block *)p;
	b->magic = MAGIC_USED;
	b->order = order;
	if ((uintptr_t)(p + HDR) & (align - 1) || ((size_t)1 << order) - HDR < size) {
		uk_free(p + HDR);
		errno = ENOMEM;
		return NULL;
	}
	return p + HDR;
}

int uk_posix_memalign(void **out, size_t align, size_t size)
{
	void *p = uk_memalign(align, size);

	if (!p)
		return errno;
	*out = p;
	return 0;
}

size_t uk_alloc_free_bytes(void)
{
	size_t total = 0;
	unsigned int k;
	struct block *b;

	for (k = 0; k < NORDERS; k++)
		for (b = free_lists[k]; b; b = b->next)
			total += (size_t)1 << k;
	return total;
}

void uk_alloc_stats(struct uk_alloc_stats *st)
{
	unsigned int k;
	struct block *b;

	stats.free_bytes = 0;
	stats.largest_free = 0;
	for (k = 0; k < NORDERS; k++) {
		stats.free_blocks[k] = 0;
		for (b = free_lists[k]; b; b = b->next) {
			stats.free_blocks[k]++;
			stats.free_bytes += (size_t)1 << k;
			stats.largest_free = (size_t)1 << k;
		}
	}
	stats.used_bytes = stats.heap_size - stats.free_bytes;
	*st = stats;
}

int uk_alloc_check(void)
{
	size_t off = 0, size;
	unsigned int k;
	struct block *b;

	for (k = 0; k < NORDERS; k++)
		for (b = free_lists[k]; b; b = b->next)
			if (b->magic != MAGIC_FREE || b->order != k ||
			    ((uintptr_t)((unsigned char *)b - heap) & (((size_t)1 << k) - 1)) ||
			    (b->next && b->next->prev != b))
				return -1;
	while (off < sizeof(heap)) {
		b = (struct block *)(heap + off);
		if ((b->magic != MAGIC_FREE && b->magic != MAGIC_USED) ||
		    b->order < MIN_ORDER || b->order > MAX_ORDER)
			return -2;
		size = (size_t)1 << b->order;
		off += size;
	}
	return off == sizeof(heap) ? 0 : -3;
}
