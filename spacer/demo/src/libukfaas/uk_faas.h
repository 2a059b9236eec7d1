/* ukfaas: the function runtime. It holds a few raw HTTP requests in the image,
 * parses each with ukhttp, hands it to the app's handler, writes the response
 * and prints one line per request: the status and a digest of the body. */
#ifndef UK_FAAS_H
#define UK_FAAS_H
#include <stddef.h>
#include <stdint.h>
#include <uk_http.h>
#include <uk_json.h>

#define FAAS_BODY_MAX 2048
#define FAAS_JSON_TOKENS 64

struct faas_ctx {
	const char *fn;		/* the function's name */
	int seq;		/* which request, from 0 */
	const struct http_request *req;
	struct http_response *res;
	const char *type;	/* the Content-Type set so far */
	struct json_doc doc;	/* filled by faas_json_body */
	struct json_token tokens[FAAS_JSON_TOKENS];
};

typedef void (*faas_handler)(struct faas_ctx *ctx);

/* Serves the built-in requests with handler; returns exit_code when every
 * response was written whole, 1 otherwise. */
int faas_serve(const char *fn, faas_handler handler, int exit_code);
int faas_request_count(void);

/* Responses. */
void faas_status(struct faas_ctx *ctx, int status);
int faas_text(struct faas_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void faas_json_begin(struct faas_ctx *ctx, struct json_writer *w);
void faas_json_end(struct faas_ctx *ctx, struct json_writer *w);
/* Fills a template: {{fn}} {{seq}} {{method}} {{path}} {{body_len}}
 * {{param.KEY}} {{header.NAME}}; an unknown or absent name gives nothing. */
int faas_render(struct faas_ctx *ctx, const char *tmpl);

/* Requests. */
const char *faas_param(struct faas_ctx *ctx, const char *key, const char *fallback);
long faas_param_long(struct faas_ctx *ctx, const char *key, long fallback);
int faas_body_is(struct faas_ctx *ctx, const char *media_type);
/* Parses the body as JSON into ctx->doc: the root token, or -1. */
int faas_json_body(struct faas_ctx *ctx);
#endif
