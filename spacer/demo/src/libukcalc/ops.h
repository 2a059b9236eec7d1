/* ukcalc's bytecode (private to the library). Operands follow their opcode:
 * PUSH a constant's index, LOAD and STORE a slot, jumps a 16-bit absolute
 * target (little-endian), CALL a builtin and its argument count. */
#ifndef UKCALC_OPS_H
#define UKCALC_OPS_H

enum calc_op {
	OP_HALT, OP_PUSH, OP_LOAD, OP_STORE, OP_DUP, OP_POP,
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_POW,
	OP_SHL, OP_SHR, OP_BAND, OP_BOR, OP_BXOR,
	OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
	OP_NEG, OP_NOT, OP_BNOT, OP_BOOL,
	OP_JMP, OP_JZ, OP_JNZ, OP_CALL
};

enum calc_builtin {
	B_MIN, B_MAX, B_ABS, B_GCD, B_POW, B_SQRT, B_CLAMP, B_SIGN, B_BITS, B_COUNT
};

struct calc_builtin_info {
	const char *name;
	unsigned char min_args, max_args;
};

extern const struct calc_builtin_info calc_builtins[B_COUNT];
#endif
