#ifndef NOLIBC_CTYPE_H
#define NOLIBC_CTYPE_H
/* Table-driven classification (the table is in .rodata of libnolibc). */
#define _CT_U 0x01	/* upper */
#define _CT_L 0x02	/* lower */
#define _CT_D 0x04	/* digit */
#define _CT_S 0x08	/* space */
#define _CT_P 0x10	/* punct */
#define _CT_C 0x20	/* control */
#define _CT_X 0x40	/* hex digit */
#define _CT_B 0x80	/* blank */
extern const unsigned char _nolibc_ctype[256];
int isalnum(int c);
int isalpha(int c);
int isblank(int c);
int iscntrl(int c);
int isdigit(int c);
int isgraph(int c);
int islower(int c);
int isprint(int c);
int ispunct(int c);
int isspace(int c);
int isupper(int c);
int isxdigit(int c);
int isascii(int c);
int tolower(int c);
int toupper(int c);
int digittoint(int c);
#endif
