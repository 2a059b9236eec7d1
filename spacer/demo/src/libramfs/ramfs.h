#ifndef RAMFS_H
#define RAMFS_H
#include <stddef.h>
/* Simple API (appending writes, positional reads); creates parent dirs. */
int ramfs_open(const char *name, int create);
long ramfs_write(int fd, const void *buf, size_t len);
long ramfs_read(int fd, void *buf, size_t len, size_t off);
long ramfs_size(int fd);
int ramfs_count(void);

/* POSIX-like API over the directory tree. */
#define RAMFS_O_RDONLY 0x0
#define RAMFS_O_WRONLY 0x1
#define RAMFS_O_RDWR 0x2
#define RAMFS_O_CREAT 0x40
#define RAMFS_O_EXCL 0x80
#define RAMFS_O_TRUNC 0x200
#define RAMFS_O_APPEND 0x400
#define RAMFS_O_MKPARENTS 0x10000
#define RAMFS_SEEK_SET 0
#define RAMFS_SEEK_CUR 1
#define RAMFS_SEEK_END 2
#define RAMFS_NAME_MAX 31

struct ramfs_stat {
	int ino;
	int is_dir;
	long size;
	int nlink;
	int blocks;
};
struct ramfs_dirent {
	int ino;
	int is_dir;
	char name[RAMFS_NAME_MAX + 1];
};

int ramfs_fopen(const char *path, int flags);
int ramfs_close(int fd);
long ramfs_fread(int fd, void *buf, size_t len);
long ramfs_fwrite(int fd, const void *buf, size_t len);
long ramfs_lseek(int fd, long off, int whence);
int ramfs_ftruncate(int fd, long len);
int ramfs_mkdir(const char *path);
int ramfs_rmdir(const char *path);
int ramfs_unlink(const char *path);
int ramfs_rename(const char *from, const char *to);
int ramfs_stat(const char *path, struct ramfs_stat *st);
/* Entry index of a directory, sorted by name; 0 at the end, <0 on error. */
int ramfs_readdir(const char *path, int index, struct ramfs_dirent *ent);
long ramfs_free_blocks(void);
/* Total bytes of regular files under path (recursive). */
long ramfs_du(const char *path);
#endif
