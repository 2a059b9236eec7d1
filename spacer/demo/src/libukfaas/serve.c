/* The runtime's loop: each built-in request is copied out of the image (the
 * parser works in place), parsed, handed to the handler, and its response
 * written in full; one line per request says what went out. */
#include <uk_faas.h>
#include <uk_alloc.h>
#include <uk_hash.h>
#include <stdio.h>
#include <string.h>

extern const char *const faas_requests[];
extern const size_t faas_nrequests;

static char body[FAAS_BODY_MAX];
static char wire[FAAS_BODY_MAX + 1024];
static struct http_request request;
static struct http_response response;
static struct faas_ctx context;	/* 2 KiB of tokens: kept off the boot stack */

int faas_request_count(void)
{
	return (int)faas_nrequests;
}

/* The runtime's own answer to a request it could not parse: the handler never
 * sees it, and the connection is not kept. */
static void refuse(struct http_response *res, long error)
{
	res->status = 400;
	res->keep_alive = 0;
	http_response_header(res, "Content-Type", "text/plain");
	http_response_printf(res, "bad request: %s\n", http_error_name(error));
}

static long serve_one(const char *fn, faas_handler handler, int seq, const char **what)
{
	const char *raw = faas_requests[seq];
	size_t len = strlen(raw);
	char *buf = uk_malloc(len + 1);
	long rc;

	if (!buf)
		return -1;
	memcpy(buf, raw, len + 1);
	http_response_init(&response, body, sizeof(body));
	http_response_header(&response, "X-Function", fn);
	rc = http_parse_request(buf, len, &request);
	if (rc < 0) {
		refuse(&response, rc);
		what[0] = what[1] = "-";
	} else {
		memset(&context, 0, sizeof(context));
		context.fn = fn;
		context.seq = seq;
		context.req = &request;
		context.res = &response;
		response.keep_alive = request.keep_alive;
		handler(&context);
		what[0] = request.method_name;
		what[1] = request.path;
	}
	rc = http_response_write(&response, wire, sizeof(wire));
	/* The request's strings live in buf: the line is printed before it is freed. */
	printf("%s: #%d %s %s -> %d %s body=%zu crc=%08x wire=%ld\n", fn, seq, what[0],
	       what[1], response.status, http_reason(response.status), response.body_len,
	       uk_crc32(response.body, response.body_len), rc);
	uk_free(buf);
	return response.overflow ? -1 : rc;
}

int faas_serve(const char *fn, faas_handler handler, int exit_code)
{
	int seq, failed = 0, classes[6] = { 0 };
	const char *what[2];
	size_t total = 0;
	long n;

	for (seq = 0; seq < (int)faas_nrequests; seq++) {
		n = serve_one(fn, handler, seq, what);
		if (n < 0)
			failed++;
		else
			total += (size_t)n;
		if (response.status >= 100 && response.status < 600)
			classes[response.status / 100]++;
	}
	printf("%s: served=%d 2xx=%d 4xx=%d 5xx=%d wire=%zu\n", fn, (int)faas_nrequests,
	       classes[2], classes[4], classes[5], total);
	return failed ? 1 : exit_code;
}
