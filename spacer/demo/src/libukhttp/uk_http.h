/* ukhttp: an HTTP/1.1 request parser that works in place on the received bytes,
 * and a response writer. No allocation: the caller owns every buffer. */
#ifndef UK_HTTP_H
#define UK_HTTP_H
#include <stddef.h>

#define HTTP_MAX_HEADERS 24
#define HTTP_MAX_PARAMS 16

enum http_method {
	HTTP_UNKNOWN, HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE,
	HTTP_OPTIONS, HTTP_PATCH, HTTP_TRACE, HTTP_CONNECT
};

/* Parse results below zero: what was wrong with the request. */
enum http_error {
	HTTP_E_INCOMPLETE = -1,	/* more bytes needed */
	HTTP_E_METHOD = -2,
	HTTP_E_TARGET = -3,
	HTTP_E_VERSION = -4,
	HTTP_E_HEADER = -5,
	HTTP_E_TOO_MANY_HEADERS = -6,
	HTTP_E_LENGTH = -7,
	HTTP_E_CHUNK = -8,
	HTTP_E_ENCODING = -9
};

struct http_header {
	const char *name;
	const char *value;
};

struct http_param {
	const char *key;
	const char *value;
};

struct http_request {
	enum http_method method;
	const char *method_name;
	const char *path;	/* percent-decoded, without the query */
	int version_minor;	/* HTTP/1.<minor> */
	int keep_alive;
	int chunked;
	struct http_header headers[HTTP_MAX_HEADERS];
	int nheaders;
	struct http_param params[HTTP_MAX_PARAMS];	/* decoded query */
	int nparams;
	const char *body;	/* decoded (de-chunked) body */
	size_t body_len;
};

/* Parses one request held in buf[0..len) and rewrites it in place (NULs, decoded
 * path, query and body). Returns the bytes consumed, or an enum http_error. */
long http_parse_request(char *buf, size_t len, struct http_request *req);
const char *http_error_name(long err);
const char *http_method_name(enum http_method m);
enum http_method http_method_from(const char *s, size_t len);

const char *http_header(const struct http_request *req, const char *name);
const char *http_param(const struct http_request *req, const char *key);
long http_param_long(const struct http_request *req, const char *key, long fallback);
int http_header_has_token(const char *value, const char *token);

/* %XX and '+' decoding; returns the decoded length or -1 on a bad escape. */
long http_url_decode(char *dst, const char *src, size_t len, int plus_is_space);
size_t http_url_encode(char *dst, size_t size, const char *src);

const char *http_reason(int status);
const char *http_mime_type(const char *path);

struct http_response {
	int status;
	int keep_alive;
	char headers[512];	/* "Name: value\r\n" lines besides the fixed ones */
	size_t headers_len;
	char *body;
	size_t body_len, body_size;
	int overflow;		/* something did not fit */
};

void http_response_init(struct http_response *res, char *body, size_t size);
int http_response_header(struct http_response *res, const char *name, const char *value);
int http_response_append(struct http_response *res, const char *data, size_t len);
int http_response_printf(struct http_response *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The whole response: status line, Server, the extra headers, Content-Length and
 * Connection, a blank line and the body. Returns its length, or -1 if too small. */
long http_response_write(const struct http_response *res, char *out, size_t size);
/* The body as chunked transfer coding, chunks of at most chunk bytes. */
long http_chunked_encode(const char *body, size_t len, size_t chunk, char *out, size_t size);
#endif
