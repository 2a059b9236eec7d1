/* ukcalc's stack machine. Arithmetic is done on unsigned 64-bit values so that
 * overflow wraps instead of being undefined. */
#include <uk_calc.h>
#include <stdlib.h>
#include <string.h>
#include "ops.h"

const struct calc_builtin_info calc_builtins[B_COUNT] = {
	[B_MIN] = { "min", 1, 8 }, [B_MAX] = { "max", 1, 8 }, [B_ABS] = { "abs", 1, 1 },
	[B_GCD] = { "gcd", 2, 2 }, [B_POW] = { "pow", 2, 2 }, [B_SQRT] = { "sqrt", 1, 1 },
	[B_CLAMP] = { "clamp", 3, 3 }, [B_SIGN] = { "sign", 1, 1 },
	[B_BITS] = { "bits", 1, 1 },
};

static const char *const status_names[] = {
	[CALC_OK] = "ok", [CALC_E_SYNTAX] = "syntax error",
	[CALC_E_UNKNOWN_NAME] = "unknown function", [CALC_E_TOO_BIG] = "program too big",
	[CALC_E_ARGS] = "wrong argument count", [CALC_E_DIV_ZERO] = "division by zero",
	[CALC_E_OVERFLOW] = "overflow", [CALC_E_DOMAIN] = "argument out of domain",
	[CALC_E_STACK] = "stack too deep",
};

const char *calc_status_name(enum calc_status s)
{
	if ((unsigned int)s < sizeof(status_names) / sizeof(status_names[0]))
		return status_names[s];
	return "unknown status";
}

static uint64_t power(uint64_t base, int64_t exp)
{
	uint64_t r = 1;

	if (exp < 0)	/* only 1 and -1 have whole reciprocals */
		return base == 1 ? 1 : base == (uint64_t)-1 ? (exp & 1 ? base : 1) : 0;
	while (exp) {
		if (exp & 1)
			r *= base;
		base *= base;
		exp >>= 1;
	}
	return r;
}

static uint64_t magnitude(int64_t v)
{
	return v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
}

static enum calc_status builtin(int which, int64_t *args, int argc, int64_t *out)
{
	int64_t v;
	int i;

	switch (which) {
	case B_MIN:
	case B_MAX:
		v = args[0];
		for (i = 1; i < argc; i++)
			if (which == B_MIN ? args[i] < v : args[i] > v)
				v = args[i];
		*out = v;
		return CALC_OK;
	case B_ABS:
		*out = (int64_t)magnitude(args[0]);
		return CALC_OK;
	case B_GCD:
		*out = (int64_t)gcd(magnitude(args[0]), magnitude(args[1]));
		return CALC_OK;
	case B_POW:
		*out = (int64_t)power((uint64_t)args[0], args[1]);
		return CALC_OK;
	case B_SQRT:
		if (args[0] < 0)
			return CALC_E_DOMAIN;
		*out = (int64_t)isqrt((unsigned long)args[0]);
		return CALC_OK;
	case B_CLAMP:
		if (args[1] > args[2])
			return CALC_E_DOMAIN;
		*out = args[0] < args[1] ? args[1] : args[0] > args[2] ? args[2] : args[0];
		return CALC_OK;
	case B_SIGN:
		*out = (args[0] > 0) - (args[0] < 0);
		return CALC_OK;
	case B_BITS:
		*out = popcount((unsigned long)args[0]);
		return CALC_OK;
	}
	return CALC_E_ARGS;
}

/* Division as C defines it (toward zero), refused where C's is undefined. */
static enum calc_status divide(int64_t a, int64_t b, int remainder, int64_t *out)
{
	if (b == 0)
		return CALC_E_DIV_ZERO;
	if (b == -1 && a == INT64_MIN)
		return CALC_E_OVERFLOW;
	*out = remainder ? a % b : a / b;
	return CALC_OK;
}

enum calc_status calc_run(const struct calc_program *prog, const int64_t *inputs,
			  int64_t *result)
{
	int64_t stack[CALC_MAX_STACK + 1], vars[CALC_MAX_VARS] = { 0 }, a, b;
	const uint8_t *code = prog->code;
	enum calc_status st;
	int pc = 0, sp = 0, argc;

	if (prog->max_depth > CALC_MAX_STACK)
		return CALC_E_STACK;
	if (inputs)
		memcpy(vars, inputs, sizeof(vars[0]) * (size_t)prog->nvars);
	for (;;) {
		uint8_t op = code[pc++];

		if (op >= OP_ADD && op <= OP_GE) {	/* the binary operators */
			b = stack[--sp];
			a = stack[--sp];
			st = CALC_OK;
			switch (op) {
			case OP_ADD: a = (int64_t)((uint64_t)a + (uint64_t)b); break;
			case OP_SUB: a = (int64_t)((uint64_t)a - (uint64_t)b); break;
			case OP_MUL: a = (int64_t)((uint64_t)a * (uint64_t)b); break;
			case OP_DIV: st = divide(a, b, 0, &a); break;
			case OP_MOD: st = divide(a, b, 1, &a); break;
			case OP_POW: a = (int64_t)power((uint64_t)a, b); break;
			case OP_SHL: a = (int64_t)((uint64_t)a << (b & 63)); break;
			case OP_SHR: a >>= (b & 63); break;	/* arithmetic, as gcc does */
			case OP_BAND: a &= b; break;
			case OP_BOR: a |= b; break;
			case OP_BXOR: a ^= b; break;
			case OP_EQ: a = a == b; break;
			case OP_NE: a = a != b; break;
			case OP_LT: a = a < b; break;
			case OP_LE: a = a <= b; break;
			case OP_GT: a = a > b; break;
			case OP_GE: a = a >= b; break;
			}
			if (st != CALC_OK)
				return st;
			stack[sp++] = a;
			continue;
		}
		switch (op) {
		case OP_HALT:
			*result = sp ? stack[sp - 1] : 0;
			return CALC_OK;
		case OP_PUSH:
			stack[sp++] = prog->consts[code[pc++]];
			break;
		case OP_LOAD:
			stack[sp++] = vars[code[pc++]];
			break;
		case OP_STORE:
			vars[code[pc++]] = stack[--sp];
			break;
		case OP_DUP:
			stack[sp] = stack[sp - 1];
			sp++;
			break;
		case OP_POP:
			sp--;
			break;
		case OP_NEG:
			stack[sp - 1] = (int64_t)(0 - (uint64_t)stack[sp - 1]);
			break;
		case OP_NOT:
			stack[sp - 1] = !stack[sp - 1];
			break;
		case OP_BNOT:
			stack[sp - 1] = ~stack[sp - 1];
			break;
		case OP_BOOL:
			stack[sp - 1] = stack[sp - 1] != 0;
			break;
		case OP_JMP:
			pc = code[pc] | code[pc + 1] << 8;
			break;
		case OP_JZ:
		case OP_JNZ:
			a = stack[--sp];
			pc = (!a) == (op == OP_JZ) ? code[pc] | code[pc + 1] << 8 : pc + 2;
			break;
		case OP_CALL:
			argc = code[pc + 1];
			sp -= argc;
			st = builtin(code[pc], &stack[sp], argc, &stack[sp]);
			if (st != CALC_OK)
				return st;
			sp++;
			pc += 2;
			break;
		default:
			return CALC_E_SYNTAX;	/* not code the compiler writes */
		}
	}
}

enum calc_status calc_eval(const char *source, const char *const *names,
			   const int64_t *values, int count, int64_t *result)
{
	static struct calc_program prog;	/* 1.5 KiB: kept off the small boot stack */
	int64_t inputs[CALC_MAX_VARS] = { 0 };
	enum calc_status st;
	int i, slot;

	st = calc_compile(&prog, source, NULL);
	if (st != CALC_OK)
		return st;
	for (i = 0; i < count; i++) {
		slot = calc_slot(&prog, names[i]);
		if (slot >= 0)
			inputs[slot] = values[i];
	}
	return calc_run(&prog, inputs, result);
}
