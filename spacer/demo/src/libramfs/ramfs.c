/* A tiny in-memory filesystem: a fixed table of named files in .bss. */
#include <ramfs.h>
#include <uk_init.h>
#include <string.h>
#include <errno.h>

#define RAMFS_FILES 16
#define RAMFS_NAME 32
#define RAMFS_FILE_SIZE 4096

struct ramfs_file {
	char name[RAMFS_NAME];
	size_t size;
	unsigned char data[RAMFS_FILE_SIZE];
};

struct uk_fs_entry {
	const char *type;
	int (*mount)(void);
};

static struct ramfs_file files[RAMFS_FILES];
static int nfiles;

UK_LIBINFO("ramfs", "0.17.0");

static int ramfs_mount(void)
{
	nfiles = 0;
	return 0;
}
UK_INIT_CLASS(ramfs_mount, 3);

/* Registered like Unikraft's filesystem drivers, in .uk_fs_list. */
static const struct uk_fs_entry ramfs_entry
	__attribute__((used, section(".uk_fs_list"))) = { "ramfs", ramfs_mount };

int ramfs_open(const char *name, int create)
{
	int i;

	for (i = 0; i < nfiles; i++)
		if (!strcmp(files[i].name, name))
			return i;
	if (!create) {
		errno = ENOENT;
		return -1;
	}
	if (nfiles == RAMFS_FILES || strlen(name) >= RAMFS_NAME) {
		errno = ENOSPC;
		return -1;
	}
	strcpy(files[nfiles].name, name);
	files[nfiles].size = 0;
	return nfiles++;
}

long ramfs_write(int fd, const void *buf, size_t len)
{
	struct ramfs_file *f = &files[fd];

	if (fd < 0 || fd >= nfiles) {
		errno = EINVAL;
		return -1;
	}
	if (len > RAMFS_FILE_SIZE - f->size)
		len = RAMFS_FILE_SIZE - f->size;
	memcpy(f->data + f->size, buf, len);
	f->size += len;
	return (long)len;
}

long ramfs_read(int fd, void *buf, size_t len, size_t off)
{
	struct ramfs_file *f = &files[fd];

	if (fd < 0 || fd >= nfiles) {
		errno = EINVAL;
		return -1;
	}
	if (off >= f->size)
		return 0;
	if (len > f->size - off)
		len = f->size - off;
	memcpy(buf, f->data + off, len);
	return (long)len;
}

long ramfs_size(int fd)
{
	return fd >= 0 && fd < nfiles ? (long)files[fd].size : -1;
}

int ramfs_count(void)
{
	return nfiles;
}
