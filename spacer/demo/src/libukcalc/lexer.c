/* ukcalc's lexer: numbers (decimal, 0x hex, 0b binary, '_' between digits),
 * names, and operators, longest match first. */
#include "lexer.h"
#include <ctype.h>
#include <string.h>

static const struct {
	const char *text;
	enum tok_kind kind;
} operators[] = {	/* two-character operators before their one-character prefixes */
	{ "**", T_POW }, { "||", T_OROR }, { "&&", T_ANDAND }, { "==", T_EQ },
	{ "!=", T_NE }, { "<=", T_LE }, { ">=", T_GE }, { "<<", T_SHL }, { ">>", T_SHR },
	{ "(", T_LPAREN }, { ")", T_RPAREN }, { ",", T_COMMA }, { ";", T_SEMI },
	{ "=", T_ASSIGN }, { "?", T_QUESTION }, { ":", T_COLON }, { "|", T_OR },
	{ "^", T_XOR }, { "&", T_AND }, { "<", T_LT }, { ">", T_GT }, { "+", T_PLUS },
	{ "-", T_MINUS }, { "*", T_STAR }, { "/", T_SLASH }, { "%", T_PERCENT },
	{ "!", T_NOT }, { "~", T_TILDE },
};

void lex_init(struct lexer *lx, const char *src)
{
	lx->src = src;
	lx->pos = 0;
	lex_next(lx);
}

static int digit_value(int c)
{
	if (isdigit(c))
		return c - '0';
	if (isalpha(c))
		return tolower(c) - 'a' + 10;
	return 99;
}

static void lex_number(struct lexer *lx, struct token *t)
{
	const char *s = lx->src + lx->pos;
	uint64_t v = 0;
	int base = 10, d, n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		n = 2;
	} else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
		base = 2;
		n = 2;
	}
	for (;; n++) {
		if (s[n] == '_' && n > 0 && isalnum((unsigned char)s[n + 1]))
			continue;
		d = digit_value((unsigned char)s[n]);
		if (!isalnum((unsigned char)s[n]))
			break;
		if (d >= base) {
			t->kind = T_BAD;
			break;
		}
		v = v * (uint64_t)base + (uint64_t)d;	/* wraps like every operation */
	}
	if (t->kind != T_BAD)
		t->kind = T_NUM;
	t->num = (int64_t)v;
	t->len = n;
}

void lex_next(struct lexer *lx)
{
	struct token *t = &lx->cur;
	const char *s;
	size_t i, n;

	while (isspace((unsigned char)lx->src[lx->pos]))
		lx->pos++;
	s = lx->src + lx->pos;
	memset(t, 0, sizeof(*t));
	t->at = lx->pos;
	if (!*s) {
		t->kind = T_END;
	} else if (isdigit((unsigned char)*s)) {
		lex_number(lx, t);
	} else if (isalpha((unsigned char)*s) || *s == '_') {
		for (n = 0; isalnum((unsigned char)s[n]) || s[n] == '_'; n++)
			;
		t->len = (int)n;
		if (n >= CALC_NAME_MAX) {
			t->kind = T_BAD;
		} else {
			memcpy(t->name, s, n);
			t->kind = strcmp(t->name, "let") ? T_NAME : T_LET;
		}
	} else {
		t->kind = T_BAD;
		t->len = 1;
		for (i = 0; i < sizeof(operators) / sizeof(operators[0]); i++) {
			n = strlen(operators[i].text);
			if (!strncmp(s, operators[i].text, n)) {
				t->kind = operators[i].kind;
				t->len = (int)n;
				break;
			}
		}
	}
	lx->pos += t->len;
}
