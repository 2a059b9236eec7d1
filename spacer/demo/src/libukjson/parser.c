/* The JSON parser (RFC 8259): one pass, recursive descent with an explicit depth
 * limit, into a flat array of tokens that point back into the text. */
#include <uk_json.h>
#include <string.h>
#include <ctype.h>
#include <stdlib.h>
#include <limits.h>

struct parser {
	struct json_doc *doc;
	const char *s;
	size_t len, pos;
};

static const char *const error_names[] = {
	"ok", "too many tokens", "syntax error", "nested too deep", "trailing bytes",
	"empty text",
};

const char *json_error_name(int err)
{
	if (err >= 0)
		return error_names[0];
	if (-err < (int)(sizeof(error_names) / sizeof(error_names[0])))
		return error_names[-err];
	return "unknown error";
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos])
		p->pos++;
}

static int new_token(struct parser *p, enum json_type type, int parent)
{
	struct json_token *t;

	if (p->doc->ntok == p->doc->max)
		return JSON_E_NOMEM;
	t = &p->doc->tok[p->doc->ntok];
	t->type = type;
	t->start = (int)p->pos;
	t->end = (int)p->pos;
	t->children = 0;
	t->parent = parent;
	t->next = -1;
	return p->doc->ntok++;
}

static int literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
		return JSON_E_SYNTAX;
	p->pos += n;
	return 0;
}

static int scan_string(struct parser *p)
{
	unsigned char c;
	int i;

	p->pos++;	/* the opening quote */
	while (p->pos < p->len) {
		c = (unsigned char)p->s[p->pos];
		if (c == '"')
			return 0;
		if (c < 0x20)
			return JSON_E_SYNTAX;
		if (c == '\\') {
			if (++p->pos >= p->len)
				return JSON_E_SYNTAX;
			c = (unsigned char)p->s[p->pos];
			if (c == 'u') {
				for (i = 1; i <= 4; i++)
					if (p->pos + i >= p->len ||
					    !isxdigit((unsigned char)p->s[p->pos + i]))
						return JSON_E_SYNTAX;
				p->pos += 4;
			} else if (!strchr("\"\\/bfnrt", c) || !c) {
				return JSON_E_SYNTAX;
			}
		}
		p->pos++;
	}
	return JSON_E_SYNTAX;
}

static size_t digits(struct parser *p)
{
	size_t start = p->pos;

	while (p->pos < p->len && isdigit((unsigned char)p->s[p->pos]))
		p->pos++;
	return p->pos - start;
}

/* number = [ "-" ] int [ frac ] [ exp ], int without leading zeros */
static int scan_number(struct parser *p)
{
	if (p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0')
		p->pos++;
	else if (!digits(p))
		return JSON_E_SYNTAX;
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (!digits(p))
			return JSON_E_SYNTAX;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (!digits(p))
			return JSON_E_SYNTAX;
	}
	return 0;
}

static int value(struct parser *p, int parent, int depth);

static int container(struct parser *p, int tok, char close, int depth)
{
	struct json_token *t;
	int child, rc, is_object = close == '}';

	p->pos++;
	skip_space(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		skip_space(p);
		if (is_object) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return JSON_E_SYNTAX;
			child = new_token(p, JSON_STRING, tok);
			if (child < 0)
				return child;
			rc = scan_string(p);
			if (rc < 0)
				return rc;
			t = &p->doc->tok[child];
			t->start++;
			t->end = (int)p->pos++;
			/* A key's value follows it as its only child. */
			t->next = -1;
			skip_space(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return JSON_E_SYNTAX;
			p->pos++;
			rc = value(p, child, depth + 1);
			if (rc < 0)
				return rc;
			p->doc->tok[child].children = 1;
			p->doc->tok[child].next = p->doc->ntok;
		} else {
			rc = value(p, tok, depth + 1);
			if (rc < 0)
				return rc;
		}
		p->doc->tok[tok].children++;
		skip_space(p);
		if (p->pos >= p->len)
			return JSON_E_SYNTAX;
		if (p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		if (p->s[p->pos] != ',')
			return JSON_E_SYNTAX;
		p->pos++;
	}
}

static int value(struct parser *p, int parent, int depth)
{
	int tok, rc;
	char c;

	if (depth > JSON_MAX_DEPTH)
		return JSON_E_DEPTH;
	skip_space(p);
	if (p->pos >= p->len)
		return JSON_E_SYNTAX;
	c = p->s[p->pos];
	tok = new_token(p, JSON_NONE, parent);
	if (tok < 0)
		return tok;
	switch (c) {
	case '{':
		p->doc->tok[tok].type = JSON_OBJECT;
		rc = container(p, tok, '}', depth);
		break;
	case '[':
		p->doc->tok[tok].type = JSON_ARRAY;
		rc = container(p, tok, ']', depth);
		break;
	case '"':
		p->doc->tok[tok].type = JSON_STRING;
		p->doc->tok[tok].start++;
		rc = scan_string(p);
		if (rc == 0) {
			p->doc->tok[tok].end = (int)p->pos++;
			p->doc->tok[tok].next = p->doc->ntok;
			return tok;
		}
		break;
	case 't':
		p->doc->tok[tok].type = JSON_TRUE;
		rc = literal(p, "true");
		break;
	case 'f':
		p->doc->tok[tok].type = JSON_FALSE;
		rc = literal(p, "false");
		break;
	case 'n':
		p->doc->tok[tok].type = JSON_NULL;
		rc = literal(p, "null");
		break;
	default:
		p->doc->tok[tok].type = JSON_NUMBER;
		rc = c == '-' || isdigit((unsigned char)c) ? scan_number(p) : JSON_E_SYNTAX;
	}
	if (rc < 0)
		return rc;
	p->doc->tok[tok].end = (int)p->pos;
	p->doc->tok[tok].next = p->doc->ntok;
	return tok;
}

int json_parse(struct json_doc *doc, const char *text, size_t len,
	       struct json_token *tokens, int max)
{
	struct parser p = { doc, text, len, 0 };
	int rc;

	if (len > INT_MAX)
		return JSON_E_NOMEM;
	doc->text = text;
	doc->tok = tokens;
	doc->ntok = 0;
	doc->max = max;
	doc->error_at = -1;
	skip_space(&p);
	if (p.pos == len) {
		rc = JSON_E_EMPTY;
	} else {
		rc = value(&p, -1, 0);
		skip_space(&p);
		if (rc >= 0 && p.pos != len)
			rc = JSON_E_TRAILING;
	}
	if (rc < 0) {
		doc->error_at = (int)p.pos;
		return rc;
	}
	return doc->ntok;
}
