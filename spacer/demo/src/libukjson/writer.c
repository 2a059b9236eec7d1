/* The JSON writer: commas and colons are placed by the writer's state, so callers
 * only say what comes next. */
#include <uk_json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

void json_writer_init(struct json_writer *w, char *buf, size_t size)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->size = size;
	w->first[0] = 1;
	if (size)
		buf[0] = '\0';
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->len + n >= w->size) {
		w->error = 1;
		n = w->size > w->len ? w->size - w->len - 1 : 0;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	if (w->size)
		w->buf[w->len] = '\0';
}

/* The separator a value needs where it goes: none after a key, else a comma
 * unless it is the first at its level. */
static void before_value(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (!w->first[w->depth])
		put(w, ",", 1);
	w->first[w->depth] = 0;
}

static void container_open(struct json_writer *w, char c)
{
	before_value(w);
	put(w, &c, 1);
	if (w->depth + 1 >= JSON_MAX_DEPTH) {
		w->error = 1;
		return;
	}
	w->first[++w->depth] = 1;
}

static void container_close(struct json_writer *w, char c)
{
	if (w->depth == 0 || w->after_key)
		w->error = 1;
	else
		w->depth--;
	put(w, &c, 1);
}

void json_object_begin(struct json_writer *w) { container_open(w, '{'); }
void json_object_end(struct json_writer *w) { container_close(w, '}'); }
void json_array_begin(struct json_writer *w) { container_open(w, '['); }
void json_array_end(struct json_writer *w) { container_close(w, ']'); }

size_t json_escape(char *out, size_t size, const char *s, size_t len)
{
	size_t n = 0, i, k;
	unsigned char c;
	char esc[6];

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		k = 2;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex_digits[c >> 4];
				esc[5] = hex_digits[c & 15];
				k = 6;
			} else {
				esc[0] = (char)c;
				k = 1;
			}
		}
		if (n + k < size)
			memcpy(out + n, esc, k);
		n += k;
	}
	if (size)
		out[n < size ? n : size - 1] = '\0';
	return n;
}

void json_string_n(struct json_writer *w, const char *s, size_t len)
{
	char chunk[64];
	size_t i, step;

	before_value(w);
	put(w, "\"", 1);
	/* Escaped a few bytes at a time: one byte grows to at most six. */
	for (i = 0; i < len; i += step) {
		step = len - i < 10 ? len - i : 10;
		put(w, chunk, json_escape(chunk, sizeof(chunk), s + i, step));
	}
	put(w, "\"", 1);
}

void json_string(struct json_writer *w, const char *s)
{
	json_string_n(w, s, strlen(s));
}

void json_key(struct json_writer *w, const char *key)
{
	if (w->after_key)
		w->error = 1;
	json_string(w, key);
	put(w, ":", 1);
	w->after_key = 1;
}

static void number(struct json_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void number(struct json_writer *w, const char *fmt, ...)
{
	char text[48];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	before_value(w);
	put(w, text, n > 0 ? (size_t)n : 0);
}

void json_int(struct json_writer *w, long v) { number(w, "%ld", v); }
void json_uint(struct json_writer *w, unsigned long v) { number(w, "%lu", v); }

void json_hex32(struct json_writer *w, unsigned int v)
{
	number(w, "\"%08x\"", v);
}

void json_fixed(struct json_writer *w, long value, int decimals)
{
	unsigned long mag = value < 0 ? 0ul - (unsigned long)value : (unsigned long)value;
	unsigned long scale = 1;
	int i;

	for (i = 0; i < decimals; i++)
		scale *= 10;
	if (decimals <= 0)
		number(w, "%s%lu", value < 0 ? "-" : "", mag);
	else
		number(w, "%s%lu.%0*lu", value < 0 ? "-" : "", mag / scale, decimals,
		       mag % scale);
}

void json_bool(struct json_writer *w, int v)
{
	before_value(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json_writer *w)
{
	before_value(w);
	put(w, "null", 4);
}
