#ifndef NOLIBC_STDIO_H
#define NOLIBC_STDIO_H
#include <stdarg.h>
#include <stddef.h>
#define EOF (-1)
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int vsprintf(char *buf, const char *fmt, va_list ap);
int sprintf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vprintf(const char *fmt, va_list ap);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int puts(const char *s);
int putchar(int c);
int vsscanf(const char *str, const char *fmt, va_list ap);
int sscanf(const char *str, const char *fmt, ...) __attribute__((format(scanf, 2, 3)));
/* Formats len bytes at addr as a canonical hex dump into buf. */
int hexdump_fmt(char *buf, size_t size, const void *addr, size_t len, unsigned long base);
#endif
