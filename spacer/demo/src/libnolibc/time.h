#ifndef NOLIBC_TIME_H
#define NOLIBC_TIME_H
#include <stddef.h>
typedef long time_t;
struct tm {
	int tm_sec, tm_min, tm_hour, tm_mday, tm_mon, tm_year;
	int tm_wday, tm_yday, tm_isdst;
};
struct tm *gmtime_r(const time_t *t, struct tm *tm);
time_t timegm(const struct tm *tm);
size_t strftime(char *buf, size_t size, const char *fmt, const struct tm *tm);
char *asctime_r(const struct tm *tm, char *buf);
#endif
