/* Reading a parsed document: members, elements, paths, numbers and strings. */
#include <uk_json.h>
#include <string.h>
#include <ctype.h>
#include <limits.h>

int json_key_at(const struct json_doc *doc, int object, int index)
{
	int tok, i;

	if (object < 0 || doc->tok[object].type != JSON_OBJECT ||
	    index < 0 || index >= doc->tok[object].children)
		return -1;
	tok = object + 1;
	for (i = 0; i < index; i++)
		tok = doc->tok[tok].next;
	return tok;
}

int json_member(const struct json_doc *doc, int object, const char *key)
{
	int i, tok;

	if (object < 0 || doc->tok[object].type != JSON_OBJECT)
		return -1;
	for (i = 0, tok = object + 1; i < doc->tok[object].children; i++) {
		if (json_equals(doc, tok, key))
			return tok + 1;
		tok = doc->tok[tok].next;
	}
	return -1;
}

int json_element(const struct json_doc *doc, int array, int index)
{
	int tok, i;

	if (array < 0 || doc->tok[array].type != JSON_ARRAY ||
	    index < 0 || index >= doc->tok[array].children)
		return -1;
	tok = array + 1;
	for (i = 0; i < index; i++)
		tok = doc->tok[tok].next;
	return tok;
}

int json_find(const struct json_doc *doc, int from, const char *path)
{
	char key[64];
	size_t n;
	int tok = from, index;

	while (tok >= 0 && *path) {
		if (*path == '.') {
			path++;
			continue;
		}
		if (*path == '[') {
			for (index = 0, path++; isdigit((unsigned char)*path); path++)
				index = index * 10 + (*path - '0');
			if (*path++ != ']')
				return -1;
			tok = json_element(doc, tok, index);
			continue;
		}
		n = strcspn(path, ".[");
		if (n >= sizeof(key))
			return -1;
		memcpy(key, path, n);
		key[n] = '\0';
		path += n;
		tok = json_member(doc, tok, key);
	}
	return tok;
}

int json_get_long(const struct json_doc *doc, int tok, long *out)
{
	const char *s, *e;
	unsigned long v = 0, limit;
	int neg;

	if (tok < 0 || doc->tok[tok].type != JSON_NUMBER)
		return -1;
	s = doc->text + doc->tok[tok].start;
	e = doc->text + doc->tok[tok].end;
	neg = *s == '-';
	if (neg)
		s++;
	limit = neg ? (unsigned long)LONG_MAX + 1 : (unsigned long)LONG_MAX;
	for (; s < e; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;	/* a fraction or an exponent: not a whole number */
		if (v > (limit - (unsigned long)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = neg ? (long)(0ul - v) : (long)v;
	return 0;
}

static int hex4(const char *s)
{
	int v = 0, i, c;

	for (i = 0; i < 4; i++) {
		c = tolower((unsigned char)s[i]);
		v = v << 4 | (isdigit(c) ? c - '0' : c - 'a' + 10);
	}
	return v;
}

static size_t utf8_put(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

long json_get_string(const struct json_doc *doc, int tok, char *out, size_t size)
{
	const char *s, *e;
	char one[4];
	size_t n = 0, k;
	unsigned long cp, lo;

	if (tok < 0 || doc->tok[tok].type != JSON_STRING || !size)
		return -1;
	s = doc->text + doc->tok[tok].start;
	e = doc->text + doc->tok[tok].end;
	while (s < e) {
		if (*s != '\\') {
			one[0] = *s++;
			k = 1;
		} else {
			s++;
			switch (*s) {
			case 'b': one[0] = '\b'; k = 1; break;
			case 'f': one[0] = '\f'; k = 1; break;
			case 'n': one[0] = '\n'; k = 1; break;
			case 'r': one[0] = '\r'; k = 1; break;
			case 't': one[0] = '\t'; k = 1; break;
			case 'u':
				cp = (unsigned long)hex4(s + 1);
				s += 4;
				/* A high surrogate joins the low one after it. */
				if (cp >= 0xd800 && cp < 0xdc00 && e - s > 6 && s[1] == '\\' &&
				    s[2] == 'u') {
					lo = (unsigned long)hex4(s + 3);
					if (lo >= 0xdc00 && lo < 0xe000) {
						cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
						s += 6;
					}
				}
				k = utf8_put(one, cp);
				break;
			default: one[0] = *s; k = 1;	/* \" \\ \/ */
			}
			s++;
		}
		if (n + k >= size)
			return -1;
		memcpy(out + n, one, k);
		n += k;
	}
	out[n] = '\0';
	return (long)n;
}

int json_equals(const struct json_doc *doc, int tok, const char *s)
{
	char text[128];
	long n = json_get_string(doc, tok, text, sizeof(text));

	return n >= 0 && (size_t)n == strlen(s) && !memcmp(text, s, (size_t)n);
}
