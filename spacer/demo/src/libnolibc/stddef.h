#ifndef NOLIBC_STDDEF_H
#define NOLIBC_STDDEF_H
typedef unsigned long size_t;
typedef long ssize_t;
typedef long ptrdiff_t;
#define NULL ((void *)0)
#define offsetof(t, m) __builtin_offsetof(t, m)
#endif
