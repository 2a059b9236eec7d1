#ifndef NOLIBC_STDLIB_H
#define NOLIBC_STDLIB_H
#include <stddef.h>
long strtol(const char *s, char **end, int base);
int atoi(const char *s);
int abs(int v);
#endif
