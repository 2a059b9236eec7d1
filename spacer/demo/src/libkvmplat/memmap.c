/* Memory map from the multiboot information: the BIOS e820 entries, the
 * kernel image and the modules, sorted, with overlaps clipped. */
#include <uk_plat.h>
#include <string.h>
#include <stdio.h>

#define MB_INFO_MEM 0x001
#define MB_INFO_MODS 0x008
#define MB_INFO_MMAP 0x040
#define MB_INFO_LOADER 0x200
#define MAX_REGIONS 32

struct mb_info {
	unsigned int flags;
	unsigned int mem_lower, mem_upper;
	unsigned int boot_device;
	unsigned int cmdline;
	unsigned int mods_count, mods_addr;
	unsigned int syms[4];
	unsigned int mmap_length, mmap_addr;
	unsigned int drives_length, drives_addr;
	unsigned int config_table;
	unsigned int boot_loader_name;
} __attribute__((packed));

struct mb_mmap {
	unsigned int size;
	unsigned long long addr, len;
	unsigned int type;
} __attribute__((packed));

struct mb_module {
	unsigned int start, end, string, reserved;
};

extern char _text[], _end[];

static struct ukplat_memregion regions[MAX_REGIONS];
static int nregions;
static const char *loader_name = "unknown";

static const char *const type_names[] = {
	"?", "free", "reserved", "acpi", "nvs", "bad",
};

const char *ukplat_memtype_name(int type)
{
	if (type == UKPLAT_MEM_KERNEL)
		return "kernel";
	if (type == UKPLAT_MEM_MODULE)
		return "module";
	if (type > 0 && type <= UKPLAT_MEM_BAD)
		return type_names[type];
	return type_names[0];
}

static void add_region(unsigned long base, unsigned long len, int type, const char *name)
{
	if (!len || nregions == MAX_REGIONS)
		return;
	regions[nregions].base = base;
	regions[nregions].len = len;
	regions[nregions].type = type;
	regions[nregions].name = name ? name : ukplat_memtype_name(type);
	nregions++;
}

static void sort_regions(void)
{
	int i, j;
	struct ukplat_memregion t;

	for (i = 1; i < nregions; i++) {
		t = regions[i];
		for (j = i; j > 0 && regions[j - 1].base > t.base; j--)
			regions[j] = regions[j - 1];
		regions[j] = t;
	}
}

/* Carves [base, base+len) out of the free regions: the kernel and modules
 * sit inside a free e820 range and must not be handed out. */
static void carve(unsigned long base, unsigned long len)
{
	int i;

	for (i = 0; i < nregions; i++) {
		struct ukplat_memregion *r = &regions[i];
		unsigned long end = r->base + r->len, cend = base + len;

		if (r->type != UKPLAT_MEM_FREE || cend <= r->base || base >= end)
			continue;
		if (base <= r->base && cend >= end) {
			r->len = 0;
		} else if (base <= r->base) {
			r->len = end - cend;
			r->base = cend;
		} else if (cend >= end) {
			r->len = base - r->base;
		} else {
			r->len = base - r->base;
			add_region(cend, end - cend, UKPLAT_MEM_FREE, NULL);
		}
	}
}

static void compact(void)
{
	int i, j = 0;

	for (i = 0; i < nregions; i++) {
		if (!regions[i].len)
			continue;
		if (j && regions[j - 1].type == regions[i].type &&
		    regions[i].type == UKPLAT_MEM_FREE &&
		    regions[j - 1].base + regions[j - 1].len == regions[i].base) {
			regions[j - 1].len += regions[i].len;
			continue;
		}
		regions[j++] = regions[i];
	}
	nregions = j;
}

void _kvmplat_memmap_init(unsigned long mbi_addr)
{
	const struct mb_info *mbi = (const struct mb_info *)mbi_addr;
	unsigned long kbase = (unsigned long)_text, kend = (unsigned long)_end;
	unsigned int i;

	nregions = 0;
	if (!mbi)
		return;
	if (mbi->flags & MB_INFO_MMAP) {
		unsigned long p = mbi->mmap_addr, end = p + mbi->mmap_length;

		while (p < end) {
			const struct mb_mmap *e = (const struct mb_mmap *)p;
			int type = e->type >= 1 && e->type <= 5 ? (int)e->type : UKPLAT_MEM_RESERVED;

			add_region(e->addr, e->len, type, NULL);
			p += e->size + sizeof(e->size);
		}
	} else if (mbi->flags & MB_INFO_MEM) {
		add_region(0, mbi->mem_lower * 1024UL, UKPLAT_MEM_FREE, NULL);
		add_region(0x100000, mbi->mem_upper * 1024UL, UKPLAT_MEM_FREE, NULL);
	}
	if (mbi->flags & MB_INFO_LOADER)
		loader_name = (const char *)(unsigned long)mbi->boot_loader_name;
	carve(kbase, kend - kbase);
	add_region(kbase, kend - kbase, UKPLAT_MEM_KERNEL, "kernel");
	if (mbi->flags & MB_INFO_MODS) {
		const struct mb_module *m = (const struct mb_module *)(unsigned long)mbi->mods_addr;

		for (i = 0; i < mbi->mods_count; i++) {
			carve(m[i].start, m[i].end - m[i].start);
			add_region(m[i].start, m[i].end - m[i].start, UKPLAT_MEM_MODULE,
				   (const char *)(unsigned long)m[i].string);
		}
	}
	sort_regions();
	compact();
}

int ukplat_memregion_count(void)
{
	return nregions;
}

const struct ukplat_memregion *ukplat_memregion_get(int i)
{
	return i >= 0 && i < nregions ? &regions[i] : NULL;
}

unsigned long ukplat_mem_total(int type)
{
	unsigned long total = 0;
	int i;

	for (i = 0; i < nregions; i++)
		if (regions[i].type == type)
			total += regions[i].len;
	return total;
}

const struct ukplat_memregion *ukplat_mem_largest_free(void)
{
	const struct ukplat_memregion *best = NULL;
	int i;

	for (i = 0; i < nregions; i++)
		if (regions[i].type == UKPLAT_MEM_FREE && (!best || regions[i].len > best->len))
			best = &regions[i];
	return best;
}

const char *ukplat_bootloader_name(void)
{
	return loader_name;
}

int ukplat_memmap_str(char *buf, unsigned long size)
{
	unsigned long len = 0;
	int i;

	for (i = 0; i < nregions; i++) {
		const struct ukplat_memregion *r = &regions[i];

		len += (unsigned long)snprintf(len < size ? buf + len : NULL,
					       len < size ? size - len : 0,
					       "%016lx-%016lx %8lu KiB %s\n", r->base,
					       r->base + r->len - 1, r->len >> 10, r->name);
	}
	return (int)len;
}
