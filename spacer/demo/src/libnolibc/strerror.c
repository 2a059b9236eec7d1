/* Error names and messages, indexed by errno value (tables in .rodata). */
#include <string.h>
#include <errno.h>
#include <stdio.h>

struct errdesc {
	unsigned short num;
	const char name[16];
	const char msg[48];
};

static const struct errdesc errors[] = {
	{ 0, "0", "Success" },
	{ EPERM, "EPERM", "Operation not permitted" },
	{ ENOENT, "ENOENT", "No such file or directory" },
	{ ESRCH, "ESRCH", "No such process" },
	{ EINTR, "EINTR", "Interrupted system call" },
	{ EIO, "EIO", "Input/output error" },
	{ ENXIO, "ENXIO", "No such device or address" },
	{ E2BIG, "E2BIG", "Argument list too long" },
	{ ENOEXEC, "ENOEXEC", "Exec format error" },
	{ EBADF, "EBADF", "Bad file descriptor" },
	{ ECHILD, "ECHILD", "No child processes" },
	{ EAGAIN, "EAGAIN", "Resource temporarily unavailable" },
	{ ENOMEM, "ENOMEM", "Cannot allocate memory" },
	{ EACCES, "EACCES", "Permission denied" },
	{ EFAULT, "EFAULT", "Bad address" },
	{ ENOTBLK, "ENOTBLK", "Block device required" },
	{ EBUSY, "EBUSY", "Device or resource busy" },
	{ EEXIST, "EEXIST", "File exists" },
	{ EXDEV, "EXDEV", "Invalid cross-device link" },
	{ ENODEV, "ENODEV", "No such device" },
	{ ENOTDIR, "ENOTDIR", "Not a directory" },
	{ EISDIR, "EISDIR", "Is a directory" },
	{ EINVAL, "EINVAL", "Invalid argument" },
	{ ENFILE, "ENFILE", "Too many open files in system" },
	{ EMFILE, "EMFILE", "Too many open files" },
	{ ENOTTY, "ENOTTY", "Inappropriate ioctl for device" },
	{ ETXTBSY, "ETXTBSY", "Text file busy" },
	{ EFBIG, "EFBIG", "File too large" },
	{ ENOSPC, "ENOSPC", "No space left on device" },
	{ ESPIPE, "ESPIPE", "Illegal seek" },
	{ EROFS, "EROFS", "Read-only file system" },
	{ EMLINK, "EMLINK", "Too many links" },
	{ EPIPE, "EPIPE", "Broken pipe" },
	{ EDOM, "EDOM", "Numerical argument out of domain" },
	{ ERANGE, "ERANGE", "Numerical result out of range" },
	{ EDEADLK, "EDEADLK", "Resource deadlock avoided" },
	{ ENAMETOOLONG, "ENAMETOOLONG", "File name too long" },
	{ ENOLCK, "ENOLCK", "No locks available" },
	{ ENOSYS, "ENOSYS", "Function not implemented" },
	{ ENOTEMPTY, "ENOTEMPTY", "Directory not empty" },
	{ ELOOP, "ELOOP", "Too many levels of symbolic links" },
	{ ENOMSG, "ENOMSG", "No message of desired type" },
	{ EIDRM, "EIDRM", "Identifier removed" },
	{ ENOSTR, "ENOSTR", "Device not a stream" },
	{ ENODATA, "ENODATA", "No data available" },
	{ ETIME, "ETIME", "Timer expired" },
	{ ENOSR, "ENOSR", "Out of streams resources" },
	{ ENOLINK, "ENOLINK", "Link has been severed" },
	{ EPROTO, "EPROTO", "Protocol error" },
	{ EMULTIHOP, "EMULTIHOP", "Multihop attempted" },
	{ EBADMSG, "EBADMSG", "Bad message" },
	{ EOVERFLOW, "EOVERFLOW", "Value too large for defined data type" },
	{ EILSEQ, "EILSEQ", "Invalid or incomplete multibyte character" },
	{ EUSERS, "EUSERS", "Too many users" },
	{ ENOTSOCK, "ENOTSOCK", "Socket operation on non-socket" },
	{ EDESTADDRREQ, "EDESTADDRREQ", "Destination address required" },
	{ EMSGSIZE, "EMSGSIZE", "Message too long" },
	{ EPROTOTYPE, "EPROTOTYPE", "Protocol wrong type for socket" },
	{ ENOPROTOOPT, "ENOPROTOOPT", "Protocol not available" },
	{ EPROTONOSUPPORT, "EPROTONOSUPPORT", "Protocol not supported" },
	{ ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT", "Socket type not supported" },
	{ EOPNOTSUPP, "EOPNOTSUPP", "Operation not supported" },
	{ EPFNOSUPPORT, "EPFNOSUPPORT", "Protocol family not supported" },
	{ EAFNOSUPPORT, "EAFNOSUPPORT", "Address family not supported by protocol" },
	{ EADDRINUSE, "EADDRINUSE", "Address already in use" },
	{ EADDRNOTAVAIL, "EADDRNOTAVAIL", "Cannot assign requested address" },
	{ ENETDOWN, "ENETDOWN", "Network is down" },
	{ ENETUNREACH, "ENETUNREACH", "Network is unreachable" },
	{ ENETRESET, "ENETRESET", "Network dropped connection on reset" },
	{ ECONNABORTED, "ECONNABORTED", "Software caused connection abort" },
	{ ECONNRESET, "ECONNRESET", "Connection reset by peer" },
	{ ENOBUFS, "ENOBUFS", "No buffer space available" },
	{ EISCONN, "EISCONN", "Transport endpoint is already connected" },
	{ ENOTCONN, "ENOTCONN", "Transport endpoint is not connected" },
	{ ESHUTDOWN, "ESHUTDOWN", "Cannot send after transport endpoint shutdown" },
	{ ETOOMANYREFS, "ETOOMANYREFS", "Too many references: cannot splice" },
	{ ETIMEDOUT, "ETIMEDOUT", "Connection timed out" },
	{ ECONNREFUSED, "ECONNREFUSED", "Connection refused" },
	{ EHOSTDOWN, "EHOSTDOWN", "Host is down" },
	{ EHOSTUNREACH, "EHOSTUNREACH", "No route to host" },
	{ EALREADY, "EALREADY", "Operation already in progress" },
	{ EINPROGRESS, "EINPROGRESS", "Operation now in progress" },
	{ ESTALE, "ESTALE", "Stale file handle" },
	{ EDQUOT, "EDQUOT", "Disk quota exceeded" },
	{ ECANCELED, "ECANCELED", "Operation canceled" },
	{ EOWNERDEAD, "EOWNERDEAD", "Owner died" },
	{ ENOTRECOVERABLE, "ENOTRECOVERABLE", "State not recoverable" },
};

#define NERRORS (sizeof(errors) / sizeof(errors[0]))

/* The table is sorted by number: binary search. */
static const struct errdesc *lookup(int err)
{
	size_t lo = 0, hi = NERRORS;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (errors[mid].num == err)
			return &errors[mid];
		if (errors[mid].num < err)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static char unknown[32];

char *strerror(int err)
{
	const struct errdesc *e = lookup(err);

	if (e)
		return (char *)e->msg;
	snprintf(unknown, sizeof(unknown), "Unknown error %d", err);
	return unknown;
}

int strerror_r(int err, char *buf, size_t len)
{
	const struct errdesc *e = lookup(err);

	if (!e) {
		snprintf(buf, len, "Unknown error %d", err);
		return EINVAL;
	}
	return strlcpy(buf, e->msg, len) >= len ? ERANGE : 0;
}

const char *strerrorname_np(int err)
{
	const struct errdesc *e = lookup(err);

	return e ? e->name : NULL;
}
