#ifndef RAMFS_H
#define RAMFS_H
#include <stddef.h>
int ramfs_open(const char *name, int create);
long ramfs_write(int fd, const void *buf, size_t len);
long ramfs_read(int fd, void *buf, size_t len, size_t off);
long ramfs_size(int fd);
int ramfs_count(void);
#endif
