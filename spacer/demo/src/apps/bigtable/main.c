/* A large app: 320 KiB of table data and 200 generated functions. */
#include <stdio.h>
#include <stdint.h>
#include <uk_alloc.h>

#define E(i) ((uint32_t)(((i) * 2654435761u) ^ ((i) >> 3)))
#define E4(i) E(i), E((i) + 1), E((i) + 2), E((i) + 3)
#define E16(i) E4(i), E4((i) + 4), E4((i) + 8), E4((i) + 12)
#define E64(i) E16(i), E16((i) + 16), E16((i) + 32), E16((i) + 48)
#define E256(i) E64(i), E64((i) + 64), E64((i) + 128), E64((i) + 192)
#define E1024(i) E256(i), E256((i) + 256), E256((i) + 512), E256((i) + 768)
#define E4096(i) E1024(i), E1024((i) + 1024), E1024((i) + 2048), E1024((i) + 3072)

#define E16384(i) E4096(i), E4096((i) + 4096), E4096((i) + 8192), E4096((i) + 12288)

static const uint32_t table[81920] = {
	E16384(0u), E16384(16384u), E16384(32768u), E16384(49152u), E16384(65536u)
};

#define F(n)                                                                 \
	__attribute__((noinline)) static uint32_t f##n(uint32_t x)           \
	{                                                                    \
		return (x ^ n##u) * 2654435761u + (x >> (n % 13));           \
	}
#define F10(a) F(a##0) F(a##1) F(a##2) F(a##3) F(a##4) \
	F(a##5) F(a##6) F(a##7) F(a##8) F(a##9)
#define F100(a) F10(a##0) F10(a##1) F10(a##2) F10(a##3) F10(a##4) \
	F10(a##5) F10(a##6) F10(a##7) F10(a##8) F10(a##9)
F100(1)
F100(2)

#define P(n) f##n,
#define P10(a) P(a##0) P(a##1) P(a##2) P(a##3) P(a##4) \
	P(a##5) P(a##6) P(a##7) P(a##8) P(a##9)
#define P100(a) P10(a##0) P10(a##1) P10(a##2) P10(a##3) P10(a##4) \
	P10(a##5) P10(a##6) P10(a##7) P10(a##8) P10(a##9)

static uint32_t (*const funcs[])(uint32_t) = { P100(1) P100(2) };

int main(int argc, char *argv[])
{
	uint32_t sum = 0, acc = 1;
	unsigned int i;
	uint32_t *scratch = uk_malloc(64);

	(void)argc;
	(void)argv;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		sum = sum * 31u + table[i];
	for (i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		acc = funcs[i](acc + sum);
	scratch[0] = acc;
	printf("bigtable: entries=%u funcs=%u sum=%08x acc=%08x\n",
	       (unsigned int)(sizeof(table) / sizeof(table[0])),
	       (unsigned int)(sizeof(funcs) / sizeof(funcs[0])), sum, scratch[0]);
	return 11;
}
