/* HTTP/1.1 responses: the status line, fixed and extra headers, the body, and the
 * chunked transfer coding. Every writer stops at its buffer's end and says so. */
#include <uk_http.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SERVER "spacer-faas/1.0"

void http_response_init(struct http_response *res, char *body, size_t size)
{
	memset(res, 0, sizeof(*res));
	res->status = 200;
	res->keep_alive = 1;
	res->body = body;
	res->body_size = size;
	if (size)
		body[0] = '\0';
}

/* Header names and values must not carry a line break into the response. */
static int safe_field(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

int http_response_header(struct http_response *res, const char *name, const char *value)
{
	size_t room = sizeof(res->headers) - res->headers_len;
	int n;

	if (!safe_field(name) || !safe_field(value))
		return -1;
	n = snprintf(res->headers + res->headers_len, room, "%s: %s\r\n", name, value);
	if (n < 0 || (size_t)n >= room) {
		res->headers[res->headers_len] = '\0';
		res->overflow = 1;
		return -1;
	}
	res->headers_len += (size_t)n;
	return 0;
}

int http_response_append(struct http_response *res, const char *data, size_t len)
{
	size_t room = res->body_size - res->body_len;

	if (len >= room) {
		res->overflow = 1;
		len = room ? room - 1 : 0;
	}
	memcpy(res->body + res->body_len, data, len);
	res->body_len += len;
	if (res->body_size)
		res->body[res->body_len] = '\0';
	return res->overflow ? -1 : 0;
}

int http_response_printf(struct http_response *res, const char *fmt, ...)
{
	size_t room = res->body_size - res->body_len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(res->body + res->body_len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= room) {
		res->overflow = 1;
		res->body_len += room ? room - 1 : 0;
		return -1;
	}
	res->body_len += (size_t)n;
	return n;
}

long http_response_write(const struct http_response *res, char *out, size_t size)
{
	int n;

	n = snprintf(out, size,
		     "HTTP/1.1 %d %s\r\nServer: " SERVER "\r\n%sContent-Length: %zu\r\n"
		     "Connection: %s\r\n\r\n",
		     res->status, http_reason(res->status), res->headers, res->body_len,
		     res->keep_alive ? "keep-alive" : "close");
	if (n < 0 || (size_t)n + res->body_len >= size)
		return -1;
	memcpy(out + n, res->body, res->body_len);
	out[n + res->body_len] = '\0';
	return (long)((size_t)n + res->body_len);
}

long http_chunked_encode(const char *body, size_t len, size_t chunk, char *out, size_t size)
{
	size_t used = 0, part;
	int n;

	if (!chunk)
		return -1;
	while (len) {
		part = len < chunk ? len : chunk;
		n = snprintf(out + used, size - used, "%zx\r\n", part);
		if (n < 0 || used + (size_t)n + part + 2 >= size)
			return -1;
		used += (size_t)n;
		memcpy(out + used, body, part);
		used += part;
		out[used++] = '\r';
		out[used++] = '\n';
		body += part;
		len -= part;
	}
	if (used + 5 >= size)
		return -1;
	memcpy(out + used, "0\r\n\r\n", 6);
	return (long)(used + 5);
}
