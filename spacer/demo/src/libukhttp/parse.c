/* HTTP/1.1 request parsing (RFC 9112), in place: names and values are
 * NUL-terminated where they lie, the path and the query are percent-decoded,
 * and a chunked body is joined back into one run of bytes. */
#include <uk_http.h>
#include <string.h>
#include <ctype.h>
#include <stdlib.h>
#include <limits.h>

static const struct {
	const char *name;
	enum http_method method;
} methods[] = {
	{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
	{ "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE }, { "OPTIONS", HTTP_OPTIONS },
	{ "PATCH", HTTP_PATCH }, { "TRACE", HTTP_TRACE }, { "CONNECT", HTTP_CONNECT },
};

static const char *const error_names[] = {
	"ok", "incomplete", "bad method", "bad target", "bad version", "bad header",
	"too many headers", "bad content length", "bad chunk", "unsupported encoding",
};

const char *http_error_name(long err)
{
	if (err >= 0)
		return error_names[0];
	if (-err < (long)(sizeof(error_names) / sizeof(error_names[0])))
		return error_names[-err];
	return "unknown error";
}

enum http_method http_method_from(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i].name) == len && !memcmp(methods[i].name, s, len))
			return methods[i].method;
	return HTTP_UNKNOWN;
}

const char *http_method_name(enum http_method m)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].method == m)
			return methods[i].name;
	return "UNKNOWN";
}

/* RFC 9110 token characters: what a method or a header name may hold. */
static int is_tchar(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Visible characters, space and tab: what a header value may hold. */
static int is_vchar(int c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

long http_url_decode(char *dst, const char *src, size_t len, int plus_is_space)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (src[i] == '%') {
			if (i + 2 >= len)
				return -1;
			hi = hexval((unsigned char)src[i + 1]);
			lo = hexval((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			dst[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (src[i] == '+' && plus_is_space) {
			dst[n++] = ' ';
		} else {
			dst[n++] = src[i];
		}
	}
	dst[n] = '\0';
	return (long)n;
}

size_t http_url_encode(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	unsigned char c;

	for (; *src; src++) {
		c = (unsigned char)*src;
		if (isalnum(c) || strchr("-._~", c)) {
			if (n + 1 < size)
				dst[n] = (char)c;
			n++;
		} else {
			if (n + 3 < size) {
				dst[n] = '%';
				dst[n + 1] = hex[c >> 4];
				dst[n + 2] = hex[c & 15];
			}
			n += 3;
		}
	}
	if (size)
		dst[n < size ? n : size - 1] = '\0';
	return n;
}

/* Finds the end of the line starting at p: the CR of its CRLF (a bare LF is
 * accepted, as RFC 9112 allows). */
static char *line_end(char *p, char *end, size_t *eol)
{
	char *q;

	for (q = p; q < end; q++) {
		if (*q == '\n') {
			if (q > p && q[-1] == '\r') {
				*eol = 2;
				return q - 1;
			}
			*eol = 1;
			return q;
		}
	}
	return NULL;
}

/* "METHOD SP target SP HTTP/1.x": the path is decoded in place (decoding never
 * grows), and the query after '?' is cut off for parse_query. */
static long parse_request_line(char *p, char *eol, struct http_request *req, char **query)
{
	char *sp1, *sp2, *target, *q;
	long n;

	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (!sp1 || sp1 == p)
		return HTTP_E_METHOD;
	for (q = p; q < sp1; q++)
		if (!is_tchar((unsigned char)*q))
			return HTTP_E_METHOD;
	req->method = http_method_from(p, (size_t)(sp1 - p));
	*sp1 = '\0';
	req->method_name = p;
	target = sp1 + 1;
	sp2 = memchr(target, ' ', (size_t)(eol - target));
	if (!sp2 || sp2 == target || (*target != '/' && *target != '*'))
		return HTTP_E_TARGET;
	if ((size_t)(eol - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    !isdigit((unsigned char)sp2[8]))
		return HTTP_E_VERSION;
	req->version_minor = sp2[8] - '0';
	req->keep_alive = req->version_minor >= 1;
	*sp2 = '\0';
	*query = strchr(target, '?');
	if (*query)
		*(*query)++ = '\0';
	n = http_url_decode(target, target, strlen(target), 0);
	if (n < 0 || memchr(target, '\0', (size_t)n))
		return HTTP_E_TARGET;	/* an encoded NUL would cut the path short */
	req->path = target;
	return 0;
}

/* Splits "a=1&b=two" (already NUL-terminated at q) into decoded parameters. */
static int parse_query(char *q, struct http_request *req)
{
	char *pair, *eq, *next;
	long n;

	for (pair = q; pair && *pair; pair = next) {
		next = strchr(pair, '&');
		if (next)
			*next++ = '\0';
		if (!*pair)
			continue;
		if (req->nparams == HTTP_MAX_PARAMS)
			return -1;
		eq = strchr(pair, '=');
		if (eq)
			*eq++ = '\0';
		if (http_url_decode(pair, pair, strlen(pair), 1) < 0)
			return -1;
		req->params[req->nparams].key = pair;
		if (eq) {
			n = http_url_decode(eq, eq, strlen(eq), 1);
			if (n < 0)
				return -1;
		}
		req->params[req->nparams].value = eq ? eq : "";
		req->nparams++;
	}
	return 0;
}

static char *trim(char *s, char *e)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = '\0';
	return s;
}

static long parse_header(char *p, char *eol, struct http_request *req)
{
	char *colon, *q;

	if (*p == ' ' || *p == '\t')
		return HTTP_E_HEADER;	/* obsolete line folding is refused */
	colon = memchr(p, ':', (size_t)(eol - p));
	if (!colon || colon == p)
		return HTTP_E_HEADER;
	for (q = p; q < colon; q++)
		if (!is_tchar((unsigned char)*q))
			return HTTP_E_HEADER;
	for (q = colon + 1; q < eol; q++)
		if (!is_vchar((unsigned char)*q))
			return HTTP_E_HEADER;
	if (req->nheaders == HTTP_MAX_HEADERS)
		return HTTP_E_TOO_MANY_HEADERS;
	*colon = '\0';
	req->headers[req->nheaders].name = p;
	req->headers[req->nheaders].value = trim(colon + 1, eol);
	req->nheaders++;
	return 0;
}

static long parse_length(const char *s)
{
	unsigned long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > (unsigned long)LONG_MAX / 10)
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	return v > (unsigned long)LONG_MAX ? -1 : (long)v;
}

/* Joins the chunks of a chunked body (RFC 9112 section 7.1) in place at p.
 * Returns the bytes of input used, or an enum http_error. */
static long dechunk(char *p, char *end, size_t *out_len)
{
	char *in = p, *out = p, *eol;
	unsigned long size;
	size_t eol_len;
	int digit;

	for (;;) {
		eol = line_end(in, end, &eol_len);
		if (!eol)
			return HTTP_E_INCOMPLETE;
		size = 0;
		if (in == eol)
			return HTTP_E_CHUNK;
		for (; in < eol && *in != ';'; in++) {	/* chunk extensions are ignored */
			digit = hexval((unsigned char)*in);
			if (digit < 0 || size > 0xffffffful)
				return HTTP_E_CHUNK;
			size = size << 4 | (unsigned long)digit;
		}
		in = eol + eol_len;
		if (size == 0)
			break;
		if ((size_t)(end - in) < size + 2)
			return HTTP_E_INCOMPLETE;
		memmove(out, in, size);
		out += size;
		in += size;
		if (in[0] == '\r' && in[1] == '\n')
			in += 2;
		else if (in[0] == '\n')
			in += 1;
		else
			return HTTP_E_CHUNK;
	}
	/* Trailer fields are skipped up to the blank line. */
	for (;;) {
		eol = line_end(in, end, &eol_len);
		if (!eol)
			return HTTP_E_INCOMPLETE;
		if (eol == in) {
			in += eol_len;
			break;
		}
		in = eol + eol_len;
	}
	*out_len = (size_t)(out - p);
	return (long)(in - p);
}

long http_parse_request(char *buf, size_t len, struct http_request *req)
{
	char *p = buf, *end = buf + len, *eol, *query = NULL;
	const char *value;
	size_t eol_len, body_len;
	long rc, length;

	memset(req, 0, sizeof(*req));
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;	/* RFC 9112: ignore empty lines before the request line */
	eol = line_end(p, end, &eol_len);
	if (!eol)
		return HTTP_E_INCOMPLETE;
	rc = parse_request_line(p, eol, req, &query);
	if (rc < 0)
		return rc;
	if (query && parse_query(query, req) < 0)
		return HTTP_E_TARGET;
	p = eol + eol_len;
	for (;;) {
		eol = line_end(p, end, &eol_len);
		if (!eol)
			return HTTP_E_INCOMPLETE;
		if (eol == p) {
			p += eol_len;
			break;
		}
		rc = parse_header(p, eol, req);
		if (rc < 0)
			return rc;
		p = eol + eol_len;
	}
	value = http_header(req, "Connection");
	if (value && http_header_has_token(value, "close"))
		req->keep_alive = 0;
	else if (value && http_header_has_token(value, "keep-alive"))
		req->keep_alive = 1;
	value = http_header(req, "Transfer-Encoding");
	if (value) {
		if (strcasecmp(value, "chunked"))
			return HTTP_E_ENCODING;
		req->chunked = 1;
		rc = dechunk(p, end, &body_len);
		if (rc < 0)
			return rc;
		req->body = p;
		req->body_len = body_len;
		return (long)(p - buf) + rc;
	}
	value = http_header(req, "Content-Length");
	length = value ? parse_length(value) : 0;
	if (length < 0)
		return HTTP_E_LENGTH;
	if ((size_t)(end - p) < (size_t)length)
		return HTTP_E_INCOMPLETE;
	req->body = p;
	req->body_len = (size_t)length;
	return (long)(p - buf) + length;
}

const char *http_header(const struct http_request *req, const char *name)
{
	int i;

	for (i = 0; i < req->nheaders; i++)
		if (!strcasecmp(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

const char *http_param(const struct http_request *req, const char *key)
{
	int i;

	for (i = 0; i < req->nparams; i++)
		if (!strcmp(req->params[i].key, key))
			return req->params[i].value;
	return NULL;
}

long http_param_long(const struct http_request *req, const char *key, long fallback)
{
	const char *value = http_param(req, key);
	char *end;
	long v;

	if (!value || !*value)
		return fallback;
	v = strtol(value, &end, 10);
	return *end ? fallback : v;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
int http_header_has_token(const char *value, const char *token)
{
	size_t n = strlen(token);
	const char *p = value, *e;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = p;
		while (*e && *e != ',')
			e++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - p) == n && !strncasecmp(p, token, n))
			return 1;
		p = e;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}
