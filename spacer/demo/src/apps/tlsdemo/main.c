/* Thread-local variables of the app's own. The app is linked right after the
 * platform library, so in the original images its TLS sits in the middle of the
 * TLS block: every thread-pointer offset that counts across it (x86-64 TLS counts
 * back from the block's end) differs from an image without it, unless spacer
 * gives the shared libraries' TLS one place in every image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

__thread int tls_hits = 5;		/* .tdata */
__thread unsigned long tls_sum;		/* .tbss */
__thread char tls_log[200];		/* .tbss */

int main(int argc, char *argv[])
{
	int i;

	(void)argc;
	(void)argv;
	for (i = 0; i < 10; i++) {
		tls_hits += i;
		tls_sum += (unsigned long)tls_hits * 3;
	}
	strcpy(tls_log, "tls ok");
	errno = 0;
	strtol("99999999999999999999999", NULL, 10);
	printf("tlsdemo: hits=%d sum=%lu log=%s errno=%d\n", tls_hits, tls_sum, tls_log,
	       errno);
	return 14;
}
