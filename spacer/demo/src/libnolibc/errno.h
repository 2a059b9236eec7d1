#ifndef NOLIBC_ERRNO_H
#define NOLIBC_ERRNO_H
/* Thread-local, as in Unikraft's libc: every image carries a TLS segment. */
extern __thread int errno;
#define EINVAL 22
#define ENOMEM 12
#define ENOENT 2
#define ERANGE 34
#define ENOSPC 28
#endif
