/* Registration tables read by ukboot, modelled on Unikraft's uk_ctortab/uk_inittab. */
#ifndef UK_INIT_H
#define UK_INIT_H

typedef void (*uk_ctor_func_t)(void);
typedef int (*uk_init_func_t)(void);

#define UK__STR(x) #x
#define UK__XSTR(x) UK__STR(x)

/* One pointer per entry in .uk_ctortab<prio>; the linker script sorts by name. */
#define UK_CTOR_PRIO(fn, prio)                                               \
	static const uk_ctor_func_t __uk_ctortab_##fn                        \
	__attribute__((used, section(".uk_ctortab" UK__XSTR(prio)))) = (fn)

/* Init functions return < 0 on failure; ukboot stops the boot then. */
#define UK_INIT_CLASS(fn, class)                                             \
	static const uk_init_func_t __uk_inittab_##fn                        \
	__attribute__((used, section(".uk_inittab" UK__XSTR(class)))) = (fn)

struct uk_libinfo {
	const char *name;
	const char *version;
};

/* Library identity, gathered into .uk_libinfo (like Unikraft's uklibid records). */
#define UK_LIBINFO(lname, lversion)                                          \
	static const struct uk_libinfo __uk_libinfo_self                     \
	__attribute__((used, section(".uk_libinfo"))) = { lname, lversion }

#endif
