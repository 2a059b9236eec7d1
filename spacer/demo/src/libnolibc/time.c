/* Calendar conversions (proleptic Gregorian, UTC) and strftime. */
#include <time.h>
#include <stdio.h>
#include <string.h>

static const char day_names[7][10] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};
static const char month_names[12][10] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December",
};
static const unsigned short days_before_month[2][13] = {
	{ 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365 },
	{ 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366 },
};

static int leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static long days_from_civil(long y, unsigned int m, unsigned int d)
{
	long era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

struct tm *gmtime_r(const time_t *t, struct tm *tm)
{
	long days = *t / 86400, secs = *t % 86400, era, y;
	unsigned int doe, yoe, doy, mp, m, d;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	tm->tm_hour = (int)(secs / 3600);
	tm->tm_min = (int)(secs / 60 % 60);
	tm->tm_sec = (int)(secs % 60);
	tm->tm_wday = (int)((days % 7 + 11) % 7);
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = (unsigned int)(days - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (long)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	tm->tm_year = (int)(y - 1900);
	tm->tm_mon = (int)m - 1;
	tm->tm_mday = (int)d;
	tm->tm_yday = days_before_month[leap(y)][m - 1] + (int)d - 1;
	tm->tm_isdst = 0;
	return tm;
}

time_t timegm(const struct tm *tm)
{
	long y = tm->tm_year + 1900L + tm->tm_mon / 12;
	int m = tm->tm_mon % 12;

	if (m < 0) {
		m += 12;
		y--;
	}
	return (days_from_civil(y, (unsigned int)m + 1, 1) + tm->tm_mday - 1) * 86400L +
	       tm->tm_hour * 3600L + tm->tm_min * 60L + tm->tm_sec;
}

struct sbuf {
	char *buf;
	size_t size, len;
};

static void sb_puts(struct sbuf *b, const char *s, size_t n)
{
	while (n-- && *s) {
		if (b->len + 1 < b->size)
			b->buf[b->len] = *s;
		b->len++;
		s++;
	}
}

static void sb_num(struct sbuf *b, long v, int width, char pad)
{
	char tmp[24];
	char fmt[8] = "%0*ld";

	if (pad != '0')
		strcpy(fmt, "%*ld");
	snprintf(tmp, sizeof(tmp), fmt, width, v);
	sb_puts(b, tmp, sizeof(tmp));
}

size_t strftime(char *buf, size_t size, const char *fmt, const struct tm *tm)
{
	struct sbuf b = { buf, size, 0 };
	int hour12;

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			sb_puts(&b, fmt, 1);
			continue;
		}
		switch (*++fmt) {
		case 'a':
			sb_puts(&b, day_names[tm->tm_wday % 7], 3);
			break;
		case 'A':
			sb_puts(&b, day_names[tm->tm_wday % 7], 10);
			break;
		case 'b':
		case 'h':
			sb_puts(&b, month_names[tm->tm_mon % 12], 3);
			break;
		case 'B':
			sb_puts(&b, month_names[tm->tm_mon % 12], 10);
			break;
		case 'd':
			sb_num(&b, tm->tm_mday, 2, '0');
			break;
		case 'e':
			sb_num(&b, tm->tm_mday, 2, ' ');
			break;
		case 'H':
			sb_num(&b, tm->tm_hour, 2, '0');
			break;
		case 'I':
			hour12 = tm->tm_hour % 12;
			sb_num(&b, hour12 ? hour12 : 12, 2, '0');
			break;
		case 'j':
			sb_num(&b, tm->tm_yday + 1, 3, '0');
			break;
		case 'm':
			sb_num(&b, tm->tm_mon + 1, 2, '0');
			break;
		case 'M':
			sb_num(&b, tm->tm_min, 2, '0');
			break;
		case 'p':
			sb_puts(&b, tm->tm_hour < 12 ? "AM" : "PM", 2);
			break;
		case 'S':
			sb_num(&b, tm->tm_sec, 2, '0');
			break;
		case 'u':
			sb_num(&b, tm->tm_wday ? tm->tm_wday : 7, 1, '0');
			break;
		case 'w':
			sb_num(&b, tm->tm_wday, 1, '0');
			break;
		case 'y':
			sb_num(&b, (tm->tm_year + 1900) % 100, 2, '0');
			break;
		case 'Y':
			sb_num(&b, tm->tm_year + 1900L, 4, '0');
			break;
		case 's':
			sb_num(&b, timegm(tm), 1, '0');
			break;
		case 'F':
			sb_num(&b, tm->tm_year + 1900L, 4, '0');
			sb_puts(&b, "-", 1);
			sb_num(&b, tm->tm_mon + 1, 2, '0');
			sb_puts(&b, "-", 1);
			sb_num(&b, tm->tm_mday, 2, '0');
			break;
		case 'T':
			sb_num(&b, tm->tm_hour, 2, '0');
			sb_puts(&b, ":", 1);
			sb_num(&b, tm->tm_min, 2, '0');
			sb_puts(&b, ":", 1);
			sb_num(&b, tm->tm_sec, 2, '0');
			break;
		case 'n':
			sb_puts(&b, "\n", 1);
			break;
		case 't':
			sb_puts(&b, "\t", 1);
			break;
		case '%':
			sb_puts(&b, "%", 1);
			break;
		case '\0':
			fmt--;
			break;
		default:
			sb_puts(&b, fmt - 1, 2);
			break;
		}
	}
	if (b.size)
		b.buf[b.len < b.size ? b.len : b.size - 1] = '\0';
	return b.len < b.size ? b.len : 0;
}

char *asctime_r(const struct tm *tm, char *buf)
{
	strftime(buf, 26, "%a %b %e %H:%M:%S %Y\n", tm);
	return buf;
}
