#ifndef UK_LIBINFO_H
#define UK_LIBINFO_H
#include <uk_init.h>
int uk_libinfo_count(void);
const struct uk_libinfo *uk_libinfo_get(int i);
#endif
