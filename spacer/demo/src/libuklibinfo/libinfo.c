/* Reads the .uk_libinfo records every library registers (cf. uklibid). */
#include <uk_libinfo.h>

extern const struct uk_libinfo uk_libinfo_start[], uk_libinfo_end[];

UK_LIBINFO("uklibinfo", "0.17.0");

int uk_libinfo_count(void)
{
	return (int)(uk_libinfo_end - uk_libinfo_start);
}

const struct uk_libinfo *uk_libinfo_get(int i)
{
	if (i < 0 || i >= uk_libinfo_count())
		return 0;
	return &uk_libinfo_start[i];
}
