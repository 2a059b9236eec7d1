/* Platform interface of libkvmplat. */
#ifndef UK_PLAT_H
#define UK_PLAT_H

void ukplat_coutk(const char *buf, unsigned int len);
void ukplat_terminate(int code) __attribute__((noreturn));
void ukplat_halt(void) __attribute__((noreturn));
const char *ukplat_cmdline(void);
unsigned long ukplat_tls_size(void);
int ukboot_inits_run(void);
void ukboot_entry(void) __attribute__((noreturn));

#endif
