/* ukcalc's compiler: precedence climbing over the lexer's tokens, emitting
 * bytecode as it goes; && || and ?: become jumps. */
#include <uk_calc.h>
#include <string.h>
#include "lexer.h"
#include "ops.h"

struct compiler {
	struct lexer lx;
	struct calc_program *prog;
	int depth;		/* the stack's depth at this point of the code */
	enum calc_status status;
	int error_at;
};

static const struct {
	enum tok_kind tok;
	unsigned char prec, op, right;
} binary_ops[] = {
	{ T_OR, 4, OP_BOR, 0 }, { T_XOR, 5, OP_BXOR, 0 }, { T_AND, 6, OP_BAND, 0 },
	{ T_EQ, 7, OP_EQ, 0 }, { T_NE, 7, OP_NE, 0 },
	{ T_LT, 8, OP_LT, 0 }, { T_LE, 8, OP_LE, 0 }, { T_GT, 8, OP_GT, 0 },
	{ T_GE, 8, OP_GE, 0 }, { T_SHL, 9, OP_SHL, 0 }, { T_SHR, 9, OP_SHR, 0 },
	{ T_PLUS, 10, OP_ADD, 0 }, { T_MINUS, 10, OP_SUB, 0 },
	{ T_STAR, 11, OP_MUL, 0 }, { T_SLASH, 11, OP_DIV, 0 }, { T_PERCENT, 11, OP_MOD, 0 },
	{ T_POW, 13, OP_POW, 1 },	/* above the unary operators: -2 ** 2 is -4 */
};
#define PREC_TERNARY 1
#define PREC_OROR 2
#define PREC_ANDAND 3
#define PREC_UNARY 12

static void fail(struct compiler *c, enum calc_status status)
{
	if (c->status == CALC_OK) {
		c->status = status;
		c->error_at = c->lx.cur.at;
	}
}

static void emit(struct compiler *c, int byte)
{
	if (c->prog->ncode == CALC_MAX_CODE) {
		fail(c, CALC_E_TOO_BIG);
		return;
	}
	c->prog->code[c->prog->ncode++] = (uint8_t)byte;
}

/* Tracks the stack's depth, which the VM checks once instead of at every push. */
static void stack_change(struct compiler *c, int delta)
{
	c->depth += delta;
	if (c->depth > c->prog->max_depth)
		c->prog->max_depth = c->depth;
	if (c->depth > CALC_MAX_STACK)
		fail(c, CALC_E_STACK);
}

static void emit_op(struct compiler *c, int op, int delta)
{
	emit(c, op);
	stack_change(c, delta);
}

static int emit_jump(struct compiler *c, int op, int delta)
{
	int at;

	emit_op(c, op, delta);
	at = c->prog->ncode;
	emit(c, 0);
	emit(c, 0);
	return at;
}

static void patch_jump(struct compiler *c, int at)
{
	if (c->status != CALC_OK)
		return;
	c->prog->code[at] = (uint8_t)(c->prog->ncode & 0xff);
	c->prog->code[at + 1] = (uint8_t)(c->prog->ncode >> 8);
}

static void emit_const(struct compiler *c, int64_t v)
{
	struct calc_program *p = c->prog;
	int i;

	for (i = 0; i < p->nconsts && p->consts[i] != v; i++)
		;
	if (i == p->nconsts) {
		if (p->nconsts == CALC_MAX_CONSTS) {
			fail(c, CALC_E_TOO_BIG);
			return;
		}
		p->consts[p->nconsts++] = v;
	}
	emit_op(c, OP_PUSH, 1);
	emit(c, i);
}

static int slot_of(struct compiler *c, const char *name, int create)
{
	struct calc_program *p = c->prog;
	int slot = calc_slot(p, name);

	if (slot >= 0 || !create)
		return slot;
	if (p->nvars == CALC_MAX_VARS) {
		fail(c, CALC_E_TOO_BIG);
		return 0;
	}
	strcpy(p->vars[p->nvars], name);
	return p->nvars++;
}

static int expect(struct compiler *c, enum tok_kind kind)
{
	if (c->lx.cur.kind != kind) {
		fail(c, CALC_E_SYNTAX);
		return 0;
	}
	lex_next(&c->lx);
	return 1;
}

static void expression(struct compiler *c, int min_prec);

static int builtin_of(const char *name)
{
	int i;

	for (i = 0; i < B_COUNT; i++)
		if (!strcmp(calc_builtins[i].name, name))
			return i;
	return -1;
}

static void call(struct compiler *c, int builtin)
{
	int argc = 0;

	lex_next(&c->lx);	/* the '(' */
	if (c->lx.cur.kind != T_RPAREN) {
		for (;;) {
			expression(c, PREC_TERNARY);
			argc++;
			if (c->lx.cur.kind != T_COMMA)
				break;
			lex_next(&c->lx);
		}
	}
	expect(c, T_RPAREN);
	if (argc < calc_builtins[builtin].min_args || argc > calc_builtins[builtin].max_args)
		fail(c, CALC_E_ARGS);
	emit_op(c, OP_CALL, 1 - argc);
	emit(c, builtin);
	emit(c, argc);
}

static void primary(struct compiler *c)
{
	struct token t = c->lx.cur;
	int builtin, slot;

	switch (t.kind) {
	case T_NUM:
		lex_next(&c->lx);
		emit_const(c, t.num);
		break;
	case T_NAME:
		lex_next(&c->lx);
		builtin = builtin_of(t.name);
		if (c->lx.cur.kind == T_LPAREN) {
			if (builtin < 0)
				fail(c, CALC_E_UNKNOWN_NAME);
			else
				call(c, builtin);
			break;
		}
		slot = slot_of(c, t.name, 1);	/* unbound names are the program's inputs */
		emit_op(c, OP_LOAD, 1);
		emit(c, slot);
		break;
	case T_LPAREN:
		lex_next(&c->lx);
		expression(c, PREC_TERNARY);
		expect(c, T_RPAREN);
		break;
	case T_MINUS:
	case T_NOT:
	case T_TILDE:
		lex_next(&c->lx);
		expression(c, PREC_UNARY);
		emit_op(c, t.kind == T_MINUS ? OP_NEG : t.kind == T_NOT ? OP_NOT : OP_BNOT, 0);
		break;
	default:
		fail(c, CALC_E_SYNTAX);
	}
}

/* a && b and a || b: the left value decides alone when it can; both yield 0 or 1. */
static void short_circuit(struct compiler *c, int jump_op, int prec)
{
	int jump;

	lex_next(&c->lx);
	emit_op(c, OP_DUP, 1);
	jump = emit_jump(c, jump_op, -1);
	emit_op(c, OP_POP, -1);
	expression(c, prec + 1);
	patch_jump(c, jump);
	emit_op(c, OP_BOOL, 0);
}

static void ternary(struct compiler *c)
{
	int to_else, to_end;

	lex_next(&c->lx);
	to_else = emit_jump(c, OP_JZ, -1);
	expression(c, PREC_TERNARY);
	to_end = emit_jump(c, OP_JMP, 0);
	stack_change(c, -1);	/* the else branch starts without the then value */
	patch_jump(c, to_else);
	expect(c, T_COLON);
	expression(c, PREC_TERNARY);	/* right-associative */
	patch_jump(c, to_end);
}

static void expression(struct compiler *c, int min_prec)
{
	size_t i;

	primary(c);
	while (c->status == CALC_OK) {
		enum tok_kind kind = c->lx.cur.kind;

		if (kind == T_QUESTION && min_prec <= PREC_TERNARY) {
			ternary(c);
			continue;
		}
		if (kind == T_OROR && min_prec <= PREC_OROR) {
			short_circuit(c, OP_JNZ, PREC_OROR);
			continue;
		}
		if (kind == T_ANDAND && min_prec <= PREC_ANDAND) {
			short_circuit(c, OP_JZ, PREC_ANDAND);
			continue;
		}
		for (i = 0; i < sizeof(binary_ops) / sizeof(binary_ops[0]); i++)
			if (binary_ops[i].tok == kind)
				break;
		if (i == sizeof(binary_ops) / sizeof(binary_ops[0]) ||
		    binary_ops[i].prec < min_prec)
			return;
		lex_next(&c->lx);
		expression(c, binary_ops[i].prec + (binary_ops[i].right ? 0 : 1));
		emit_op(c, binary_ops[i].op, -1);
	}
}

static void statement(struct compiler *c)
{
	char name[CALC_NAME_MAX];
	int slot;

	if (c->lx.cur.kind != T_LET) {
		expression(c, PREC_TERNARY);
		return;
	}
	lex_next(&c->lx);
	if (c->lx.cur.kind != T_NAME) {
		fail(c, CALC_E_SYNTAX);
		return;
	}
	strcpy(name, c->lx.cur.name);
	lex_next(&c->lx);
	expect(c, T_ASSIGN);
	expression(c, PREC_TERNARY);
	slot = slot_of(c, name, 1);
	emit_op(c, OP_DUP, 1);	/* a let's value is the value it binds */
	emit_op(c, OP_STORE, -1);
	emit(c, slot);
}

enum calc_status calc_compile(struct calc_program *prog, const char *source,
			      struct calc_error *err)
{
	struct compiler c;

	memset(prog, 0, sizeof(*prog));
	memset(&c, 0, sizeof(c));
	c.prog = prog;
	lex_init(&c.lx, source);
	for (;;) {
		statement(&c);
		if (c.status != CALC_OK || c.lx.cur.kind != T_SEMI)
			break;
		lex_next(&c.lx);
		if (c.lx.cur.kind == T_END)
			break;	/* a trailing ';' */
		emit_op(&c, OP_POP, -1);
	}
	if (c.status == CALC_OK && c.lx.cur.kind != T_END)
		fail(&c, CALC_E_SYNTAX);
	emit(&c, OP_HALT);
	if (err) {
		err->status = c.status;
		err->at = c.status == CALC_OK ? -1 : c.error_at;
	}
	return c.status;
}

int calc_slot(const struct calc_program *prog, const char *name)
{
	int i;

	for (i = 0; i < prog->nvars; i++)
		if (!strcmp(prog->vars[i], name))
			return i;
	return -1;
}
