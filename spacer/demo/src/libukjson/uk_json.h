/* ukjson: a JSON writer with RFC 8259 escaping, and a parser that turns a text
 * into a flat array of tokens (no allocation) that callers query by path. */
#ifndef UK_JSON_H
#define UK_JSON_H
#include <stddef.h>

#define JSON_MAX_DEPTH 16

struct json_writer {
	char *buf;
	size_t size, len;
	int depth;
	unsigned char first[JSON_MAX_DEPTH];	/* no member written yet at this level */
	unsigned char after_key;
	int error;		/* overflow, or calls in a wrong order */
};

void json_writer_init(struct json_writer *w, char *buf, size_t size);
void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *s);
void json_string_n(struct json_writer *w, const char *s, size_t len);
void json_int(struct json_writer *w, long v);
void json_uint(struct json_writer *w, unsigned long v);
void json_hex32(struct json_writer *w, unsigned int v);	/* as an "xxxxxxxx" string */
void json_fixed(struct json_writer *w, long value, int decimals);	/* value / 10^decimals */
void json_bool(struct json_writer *w, int v);
void json_null(struct json_writer *w);
/* Escapes s as the inside of a JSON string into out; returns the length needed. */
size_t json_escape(char *out, size_t size, const char *s, size_t len);

enum json_type { JSON_NONE, JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER,
		 JSON_TRUE, JSON_FALSE, JSON_NULL };

struct json_token {
	enum json_type type;
	int start, end;		/* the value's bytes (a string's without its quotes) */
	int children;		/* members or elements (an object's keys count) */
	int parent;
	int next;		/* the token after this value and everything inside it */
};

enum json_error { JSON_E_NOMEM = -1, JSON_E_SYNTAX = -2, JSON_E_DEPTH = -3,
		  JSON_E_TRAILING = -4, JSON_E_EMPTY = -5 };

struct json_doc {
	const char *text;
	struct json_token *tok;
	int ntok, max;
	int error_at;		/* the byte where parsing stopped on an error */
};

/* Returns the number of tokens, or an enum json_error. */
int json_parse(struct json_doc *doc, const char *text, size_t len,
	       struct json_token *tokens, int max);
const char *json_error_name(int err);
/* The value at "key.sub[2].x" under token from (0: the root); -1 if absent. */
int json_find(const struct json_doc *doc, int from, const char *path);
int json_member(const struct json_doc *doc, int object, const char *key);
int json_element(const struct json_doc *doc, int array, int index);
int json_key_at(const struct json_doc *doc, int object, int index);
int json_get_long(const struct json_doc *doc, int tok, long *out);
/* A string token unescaped into out (UTF-8); its length, or -1. */
long json_get_string(const struct json_doc *doc, int tok, char *out, size_t size);
int json_equals(const struct json_doc *doc, int tok, const char *s);
#endif
