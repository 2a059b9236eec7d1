/* ukcalc: a small expression language compiled to bytecode for a stack machine.
 *
 *   program   = statement { ";" statement }
 *   statement = "let" name "=" expr | expr
 *   expr      = C's operators on 64-bit integers (?: || && | ^ & == != < <= > >=
 *               << >> + - * / % and unary - ! ~), "**" for powers, and the calls
 *               min max abs gcd pow sqrt clamp sign bits
 *
 * The program's value is that of its last statement. Arithmetic wraps around;
 * division truncates toward zero, and dividing by zero stops the run. */
#ifndef UK_CALC_H
#define UK_CALC_H
#include <stddef.h>
#include <stdint.h>

#define CALC_MAX_CODE 512
#define CALC_MAX_CONSTS 64
#define CALC_MAX_VARS 16
#define CALC_MAX_STACK 64
#define CALC_NAME_MAX 16

enum calc_status {
	CALC_OK = 0, CALC_E_SYNTAX, CALC_E_UNKNOWN_NAME, CALC_E_TOO_BIG,
	CALC_E_ARGS, CALC_E_DIV_ZERO, CALC_E_OVERFLOW, CALC_E_DOMAIN, CALC_E_STACK
};

struct calc_program {
	uint8_t code[CALC_MAX_CODE];
	int ncode;
	int64_t consts[CALC_MAX_CONSTS];
	int nconsts;
	char vars[CALC_MAX_VARS][CALC_NAME_MAX];
	int nvars;
	int max_depth;		/* the deepest the stack gets, found while compiling */
};

struct calc_error {
	enum calc_status status;
	int at;			/* byte offset in the source, for compile errors */
};

/* Compiles source; names not bound by "let" before their use are inputs, set
 * with calc_bind before a run. */
enum calc_status calc_compile(struct calc_program *prog, const char *source,
			      struct calc_error *err);
enum calc_status calc_run(const struct calc_program *prog, const int64_t *inputs,
			  int64_t *result);
/* The slot of variable name in prog (-1 when the program has none). */
int calc_slot(const struct calc_program *prog, const char *name);
const char *calc_status_name(enum calc_status s);
/* Compile and run in one call, binding the variables named in names[]. */
enum calc_status calc_eval(const char *source, const char *const *names,
			   const int64_t *values, int count, int64_t *result);
#endif
