/* NOLIBC_POSIX_FD (a configuration option, as real nolibc gains with vfscore)
 * adds a small file-descriptor table here. The file sorts first, so every other
 * nolibc function sits further on in that variant: calls into nolibc from other
 * libraries then encode other displacements unless they go through a table. */
#include <stddef.h>
#include <string.h>

#ifdef NOLIBC_POSIX_FD
#define NOLIBC_MAX_FD 16

struct nolibc_fd {
	const char *name;
	size_t pos;
	int used;
};

static struct nolibc_fd fd_table[NOLIBC_MAX_FD];

int nolibc_fd_open(const char *name)
{
	int fd;

	for (fd = 3; fd < NOLIBC_MAX_FD; fd++) {
		if (!fd_table[fd].used) {
			fd_table[fd].used = 1;
			fd_table[fd].name = name;
			fd_table[fd].pos = 0;
			return fd;
		}
	}
	return -1;
}

int nolibc_fd_close(int fd)
{
	if (fd < 3 || fd >= NOLIBC_MAX_FD || !fd_table[fd].used)
		return -1;
	memset(&fd_table[fd], 0, sizeof(fd_table[fd]));
	return 0;
}

size_t nolibc_fd_seek(int fd, size_t pos)
{
	if (fd < 3 || fd >= NOLIBC_MAX_FD || !fd_table[fd].used)
		return (size_t)-1;
	fd_table[fd].pos = pos;
	return pos;
}

int nolibc_fd_count(void)
{
	int fd, n = 0;

	for (fd = 0; fd < NOLIBC_MAX_FD; fd++)
		n += fd_table[fd].used;
	return n;
}

const char *nolibc_fd_name(int fd)
{
	if (fd < 3 || fd >= NOLIBC_MAX_FD || !fd_table[fd].used)
		return NULL;
	return fd_table[fd].name;
}
#endif
