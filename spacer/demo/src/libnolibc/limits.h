#ifndef NOLIBC_LIMITS_H
#define NOLIBC_LIMITS_H
#include <stdint.h>
#define CHAR_BIT 8
#define PATH_MAX 256
#endif
