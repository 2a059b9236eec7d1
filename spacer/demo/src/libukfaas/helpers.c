/* What handlers call: reading the request, and writing text, JSON or a filled
 * template as the response body (each sets the Content-Type once). */
#include <uk_faas.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_type(struct faas_ctx *ctx, const char *type)
{
	if (ctx->type)
		return;
	ctx->type = type;
	http_response_header(ctx->res, "Content-Type", type);
}

void faas_status(struct faas_ctx *ctx, int status)
{
	ctx->res->status = status;
}

int faas_text(struct faas_ctx *ctx, const char *fmt, ...)
{
	struct http_response *res = ctx->res;
	size_t room = res->body_size - res->body_len;
	va_list ap;
	int n;

	set_type(ctx, "text/plain");
	va_start(ap, fmt);
	n = vsnprintf(res->body + res->body_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		res->overflow = 1;
		return -1;
	}
	res->body_len += (size_t)n;
	return n;
}

void faas_json_begin(struct faas_ctx *ctx, struct json_writer *w)
{
	struct http_response *res = ctx->res;

	set_type(ctx, "application/json");
	json_writer_init(w, res->body + res->body_len, res->body_size - res->body_len);
}

void faas_json_end(struct faas_ctx *ctx, struct json_writer *w)
{
	ctx->res->body_len += w->len;
	if (w->error || w->depth)
		ctx->res->overflow = 1;
}

const char *faas_param(struct faas_ctx *ctx, const char *key, const char *fallback)
{
	const char *value = http_param(ctx->req, key);

	return value ? value : fallback;
}

long faas_param_long(struct faas_ctx *ctx, const char *key, long fallback)
{
	return http_param_long(ctx->req, key, fallback);
}

/* Whether the body's Content-Type is media_type, parameters (charset) aside. */
int faas_body_is(struct faas_ctx *ctx, const char *media_type)
{
	const char *type = http_header(ctx->req, "Content-Type");
	size_t n = strlen(media_type);

	return type && !strncasecmp(type, media_type, n) &&
	       (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

int faas_json_body(struct faas_ctx *ctx)
{
	int n = json_parse(&ctx->doc, ctx->req->body, ctx->req->body_len, ctx->tokens,
			   FAAS_JSON_TOKENS);

	return n > 0 ? 0 : -1;
}

/* The value of one template name, written into buf when it is a number. */
static const char *lookup(struct faas_ctx *ctx, const char *name, char *buf, size_t size)
{
	const char *value;

	if (!strcmp(name, "fn"))
		return ctx->fn;
	if (!strcmp(name, "method"))
		return ctx->req->method_name;
	if (!strcmp(name, "path"))
		return ctx->req->path;
	if (!strcmp(name, "seq")) {
		snprintf(buf, size, "%d", ctx->seq);
		return buf;
	}
	if (!strcmp(name, "body_len")) {
		snprintf(buf, size, "%zu", ctx->req->body_len);
		return buf;
	}
	if (!strncmp(name, "param.", 6))
		value = http_param(ctx->req, name + 6);
	else if (!strncmp(name, "header.", 7))
		value = http_header(ctx->req, name + 7);
	else
		value = NULL;
	return value ? value : "";
}

int faas_render(struct faas_ctx *ctx, const char *tmpl)
{
	const char *open, *close, *value;
	char name[48], number[24];
	size_t n;

	set_type(ctx, "text/plain");
	while ((open = strstr(tmpl, "{{")) != NULL) {
		close = strstr(open + 2, "}}");
		if (!close)
			break;	/* an unclosed "{{" is text */
		http_response_append(ctx->res, tmpl, (size_t)(open - tmpl));
		n = (size_t)(close - open - 2);
		if (n < sizeof(name)) {
			memcpy(name, open + 2, n);
			name[n] = '\0';
			value = lookup(ctx, name, number, sizeof(number));
			http_response_append(ctx->res, value, strlen(value));
		}
		tmpl = close + 2;
	}
	return http_response_append(ctx->res, tmpl, strlen(tmpl));
}
