/* The tokens of ukcalc's source (private to the library). */
#ifndef UKCALC_LEXER_H
#define UKCALC_LEXER_H
#include <stdint.h>
#include <uk_calc.h>

enum tok_kind {
	T_END, T_NUM, T_NAME, T_LET, T_LPAREN, T_RPAREN, T_COMMA, T_SEMI, T_ASSIGN,
	T_QUESTION, T_COLON, T_OROR, T_ANDAND, T_OR, T_XOR, T_AND, T_EQ, T_NE,
	T_LT, T_LE, T_GT, T_GE, T_SHL, T_SHR, T_PLUS, T_MINUS, T_STAR, T_SLASH,
	T_PERCENT, T_POW, T_NOT, T_TILDE, T_BAD
};

struct token {
	enum tok_kind kind;
	int at, len;
	int64_t num;
	char name[CALC_NAME_MAX];
};

struct lexer {
	const char *src;
	int pos;
	struct token cur;
};

void lex_init(struct lexer *lx, const char *src);
void lex_next(struct lexer *lx);
#endif
