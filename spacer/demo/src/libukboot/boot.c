/* ukboot: run the constructor and init tables, then main, then shut down. */
#include <uk_init.h>
#include <uk_plat.h>
#include <stdio.h>

extern const uk_ctor_func_t _ctors[], _ectors[];
extern const uk_init_func_t uk_inittab_start[], uk_inittab_end[];

int main(int argc, char *argv[]);

static char *boot_argv[2] = { "app", 0 };
static int boot_inits_run;

UK_LIBINFO("ukboot", "0.17.0");

void ukboot_entry(void)
{
	const uk_ctor_func_t *ctor;
	const uk_init_func_t *init;
	int rc;

	for (ctor = _ctors; ctor < _ectors; ctor++)
		(*ctor)();
	for (init = uk_inittab_start; init < uk_inittab_end; init++) {
		rc = (*init)();
		if (rc < 0) {
			printf("ukboot: init %d failed: %d\n", boot_inits_run, rc);
			ukplat_halt();
		}
		boot_inits_run++;
	}
	rc = main(1, boot_argv);
	ukplat_terminate(rc);
}

int ukboot_inits_run(void)
{
	return boot_inits_run;
}
