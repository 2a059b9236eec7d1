/* An in-memory filesystem: a tree of inodes (directories with child lists,
 * files with block maps) over static pools in .bss, and an open-file table. */
#include <ramfs.h>
#include <uk_init.h>
#include <string.h>
#include <errno.h>

#define NINODES 64
#define NBLOCKS 512
#define BLOCK_SIZE 256
#define FILE_BLOCKS 64	/* 16 KiB per file */
#define NFDS 16
#define NONE (-1)
#define ROOT 0

struct inode {
	char name[RAMFS_NAME_MAX + 1];
	int used, is_dir, parent, child, sibling, nlink;
	long size;
	short blocks[FILE_BLOCKS];
};

struct ofile {
	int ino, flags;
	long pos;
};

struct uk_fs_entry {
	const char *type;
	int (*mount)(void);
};

static struct inode inodes[NINODES];
static unsigned char blocks[NBLOCKS][BLOCK_SIZE];
static unsigned char block_used[NBLOCKS];
static struct ofile fds[NFDS];
static long blocks_free;

UK_LIBINFO("ramfs", "0.17.0");

static int ramfs_mount(void)
{
	memset(inodes, 0, sizeof(inodes));
	memset(block_used, 0, sizeof(block_used));
	memset(fds, 0, sizeof(fds));
	inodes[ROOT].used = 1;
	inodes[ROOT].is_dir = 1;
	inodes[ROOT].parent = ROOT;
	inodes[ROOT].child = NONE;
	inodes[ROOT].sibling = NONE;
	inodes[ROOT].nlink = 2;
	strcpy(inodes[ROOT].name, "/");
	blocks_free = NBLOCKS;
	return 0;
}
UK_INIT_CLASS(ramfs_mount, 3);

/* Registered like Unikraft's filesystem drivers, in .uk_fs_list. */
static const struct uk_fs_entry ramfs_entry
	__attribute__((used, section(".uk_fs_list"))) = { "ramfs", ramfs_mount };

static int fail(int err)
{
	errno = err;
	return -1;
}

static int block_alloc(void)
{
	int i;

	for (i = 0; i < NBLOCKS; i++) {
		if (!block_used[i]) {
			block_used[i] = 1;
			blocks_free--;
			memset(blocks[i], 0, BLOCK_SIZE);
			return i;
		}
	}
	return NONE;
}

static void block_release(short *b)
{
	if (*b != NONE) {
		block_used[*b] = 0;
		blocks_free++;
	}
	*b = NONE;
}

static int inode_alloc(int parent, const char *name, size_t len, int is_dir)
{
	int i, j;

	for (i = 1; i < NINODES; i++)
		if (!inodes[i].used)
			break;
	if (i == NINODES)
		return fail(ENOSPC);
	memset(&inodes[i], 0, sizeof(inodes[i]));
	memcpy(inodes[i].name, name, len);
	inodes[i].name[len] = '\0';
	inodes[i].used = 1;
	inodes[i].is_dir = is_dir;
	inodes[i].parent = parent;
	inodes[i].child = NONE;
	inodes[i].nlink = is_dir ? 2 : 1;
	for (j = 0; j < FILE_BLOCKS; j++)
		inodes[i].blocks[j] = NONE;
	inodes[i].sibling = inodes[parent].child;
	inodes[parent].child = i;
	if (is_dir)
		inodes[parent].nlink++;
	return i;
}

static void inode_unlink_from_parent(int ino)
{
	int *link = &inodes[inodes[ino].parent].child;

	while (*link != NONE && *link != ino)
		link = &inodes[*link].sibling;
	if (*link == ino)
		*link = inodes[ino].sibling;
	inodes[ino].sibling = NONE;
}

static int find_child(int dir, const char *name, size_t len)
{
	int c;

	for (c = inodes[dir].child; c != NONE; c = inodes[c].sibling)
		if (strlen(inodes[c].name) == len && !memcmp(inodes[c].name, name, len))
			return c;
	return NONE;
}

/*
 * Resolves path component by component ("." and ".." too). With want_parent
 * it stops before the last component and returns it in *last/*last_len.
 * mkparents creates missing directories on the way.
 */
static int resolve(const char *path, int want_parent, int mkparents,
		   const char **last, size_t *last_len)
{
	int cur = ROOT, next;
	const char *p = path, *seg;
	size_t len;

	if (!path || *path != '/')
		return fail(EINVAL);
	for (;;) {
		while (*p == '/')
			p++;
		seg = p;
		len = strcspn(p, "/");
		p += len;
		while (*p == '/')
			p++;
		if (!len) {
			if (want_parent)
				return fail(EINVAL);
			return cur;
		}
		if (len > RAMFS_NAME_MAX)
			return fail(ENAMETOOLONG);
		if (want_parent && !*p) {
			*last = seg;
			*last_len = len;
			return cur;
		}
		if (len == 1 && seg[0] == '.')
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			cur = inodes[cur].parent;
			continue;
		}
		next = find_child(cur, seg, len);
		if (next == NONE) {
			if (!mkparents || !*p)
				return fail(ENOENT);
			next = inode_alloc(cur, seg, len, 1);
			if (next < 0)
				return -1;
		}
		if (!inodes[next].is_dir && *p)
			return fail(ENOTDIR);
		cur = next;
	}
}

static int lookup(const char *path)
{
	return resolve(path, 0, 0, NULL, NULL);
}

static void truncate_blocks(struct inode *f, long len)
{
	int keep = (int)((len + BLOCK_SIZE - 1) / BLOCK_SIZE), i;

	for (i = keep; i < FILE_BLOCKS; i++)
		if (f->blocks[i] != NONE)
			block_release(&f->blocks[i]);
	if (len % BLOCK_SIZE && f->blocks[len / BLOCK_SIZE] != NONE)
		memset(blocks[f->blocks[len / BLOCK_SIZE]] + len % BLOCK_SIZE, 0,
		       BLOCK_SIZE - (size_t)(len % BLOCK_SIZE));
	f->size = len;
}

int ramfs_fopen(const char *path, int flags)
{
	const char *name;
	size_t len;
	int dir, ino, fd;

	for (fd = 0; fd < NFDS; fd++)
		if (!fds[fd].ino)
			break;
	if (fd == NFDS)
		return fail(EMFILE);
	dir = resolve(path, 1, flags & RAMFS_O_MKPARENTS, &name, &len);
	if (dir < 0)
		return -1;
	ino = find_child(dir, name, len);
	if (ino == NONE) {
		if (!(flags & RAMFS_O_CREAT))
			return fail(ENOENT);
		ino = inode_alloc(dir, name, len, 0);
		if (ino < 0)
			return -1;
	} else if ((flags & RAMFS_O_CREAT) && (flags & RAMFS_O_EXCL)) {
		return fail(EEXIST);
	}
	if (inodes[ino].is_dir && (flags & 3))
		return fail(EISDIR);
	if ((flags & RAMFS_O_TRUNC) && (flags & 3))
		truncate_blocks(&inodes[ino], 0);
	fds[fd].ino = ino;
	fds[fd].flags = flags;
	fds[fd].pos = 0;
	return fd;
}

static struct ofile *get_fd(int fd)
{
	if (fd < 0 || fd >= NFDS || !fds[fd].ino) {
		errno = EBADF;
		return NULL;
	}
	return &fds[fd];
}

int ramfs_close(int fd)
{
	struct ofile *f = get_fd(fd);

	if (!f)
		return -1;
	f->ino = 0;
	return 0;
}

static long file_read(struct inode *f, void *buf, size_t len, long off)
{
	unsigned char *out = buf;
	size_t done = 0, chunk, boff;
	int b;

	if (off >= f->size)
		return 0;
	if (len > (size_t)(f->size - off))
		len = (size_t)(f->size - off);
	while (done < len) {
		b = (int)((off + (long)done) / BLOCK_SIZE);
		boff = (size_t)((off + (long)done) % BLOCK_SIZE);
		chunk = BLOCK_SIZE - boff < len - done ? BLOCK_SIZE - boff : len - done;
		if (f->blocks[b] == NONE)
			memset(out + done, 0, chunk);	/* a hole */
		else
			memcpy(out + done, blocks[f->blocks[b]] + boff, chunk);
		done += chunk;
	}
	return (long)len;
}

static long file_write(struct inode *f, const void *buf, size_t len, long off)
{
	const unsigned char *in = buf;
	size_t done = 0, chunk, boff;
	int b;

	if (off >= (long)FILE_BLOCKS * BLOCK_SIZE)
		return fail(EFBIG);
	if (len > (size_t)((long)FILE_BLOCKS * BLOCK_SIZE - off))
		len = (size_t)((long)FILE_BLOCKS * BLOCK_SIZE - off);
	while (done < len) {
		b = (int)((off + (long)done) / BLOCK_SIZE);
		boff = (size_t)((off + (long)done) % BLOCK_SIZE);
		chunk = BLOCK_SIZE - boff < len - done ? BLOCK_SIZE - boff : len - done;
		if (f->blocks[b] == NONE) {
			f->blocks[b] = (short)block_alloc();
			if (f->blocks[b] == NONE) {
				if (!done)
					return fail(ENOSPC);
				break;
			}
		}
		memcpy(blocks[f->blocks[b]] + boff, in + done, chunk);
		done += chunk;
	}
	if (off + (long)done > f->size)
		f->size = off + (long)done;
	return (long)done;
}

long ramfs_fread(int fd, void *buf, size_t len)
{
	struct ofile *f = get_fd(fd);
	long n;

	if (!f)
		return -1;
	if ((f->flags & 3) == RAMFS_O_WRONLY)
		return fail(EBADF);
	if (inodes[f->ino].is_dir)
		return fail(EISDIR);
	n = file_read(&inodes[f->ino], buf, len, f->pos);
	if (n > 0)
		f->pos += n;
	return n;
}

long ramfs_fwrite(int fd, const void *buf, size_t len)
{
	struct ofile *f = get_fd(fd);
	long n;

	if (!f)
		return -1;
	if (!(f->flags & 3))
		return fail(EBADF);
	if (f->flags & RAMFS_O_APPEND)
		f->pos = inodes[f->ino].size;
	n = file_write(&inodes[f->ino], buf, len, f->pos);
	if (n > 0)
		f->pos += n;
	return n;
}

long ramfs_lseek(int fd, long off, int whence)
{
	struct ofile *f = get_fd(fd);
	long base;

	if (!f)
		return -1;
	switch (whence) {
	case RAMFS_SEEK_SET:
		base = 0;
		break;
	case RAMFS_SEEK_CUR:
		base = f->pos;
		break;
	case RAMFS_SEEK_END:
		base = inodes[f->ino].size;
		break;
	default:
		return fail(EINVAL);
	}
	if (base + off < 0)
		return fail(EINVAL);
	f->pos = base + off;
	return f->pos;
}

int ramfs_ftruncate(int fd, long len)
{
	struct ofile *f = get_fd(fd);

	if (!f)
		return -1;
	if (len < 0 || len > (long)FILE_BLOCKS * BLOCK_SIZE)
		return fail(EINVAL);
	truncate_blocks(&inodes[f->ino], len);
	return 0;
}

int ramfs_mkdir(const char *path)
{
	const char *name;
	size_t len;
	int dir = resolve(path, 1, 0, &name, &len);

	if (dir < 0)
		return -1;
	if (find_child(dir, name, len) != NONE)
		return fail(EEXIST);
	return inode_alloc(dir, name, len, 1) < 0 ? -1 : 0;
}

static int is_open(int ino)
{
	int fd;

	for (fd = 0; fd < NFDS; fd++)
		if (fds[fd].ino == ino)
			return 1;
	return 0;
}

int ramfs_unlink(const char *path)
{
	int ino = lookup(path);

	if (ino < 0)
		return -1;
	if (inodes[ino].is_dir)
		return fail(EISDIR);
	if (is_open(ino))
		return fail(EBUSY);
	truncate_blocks(&inodes[ino], 0);
	inode_unlink_from_parent(ino);
	inodes[ino].used = 0;
	return 0;
}

int ramfs_rmdir(const char *path)
{
	int ino = lookup(path);

	if (ino < 0)
		return -1;
	if (!inodes[ino].is_dir)
		return fail(ENOTDIR);
	if (ino == ROOT)
		return fail(EBUSY);
	if (inodes[ino].child != NONE)
		return fail(ENOTEMPTY);
	inodes[inodes[ino].parent].nlink--;
	inode_unlink_from_parent(ino);
	inodes[ino].used = 0;
	return 0;
}

int ramfs_rename(const char *from, const char *to)
{
	const char *name;
	size_t len;
	int src = lookup(from), dir, old, a;

	if (src < 0)
		return -1;
	dir = resolve(to, 1, 0, &name, &len);
	if (dir < 0)
		return -1;
	for (a = dir; a != ROOT; a = inodes[a].parent)
		if (a == src)
			return fail(EINVAL);	/* into its own subtree */
	old = find_child(dir, name, len);
	if (old == src)
		return 0;
	if (old != NONE) {
		if (inodes[old].is_dir || inodes[src].is_dir)
			return fail(EEXIST);
		if (is_open(old))
			return fail(EBUSY);
		truncate_blocks(&inodes[old], 0);
		inode_unlink_from_parent(old);
		inodes[old].used = 0;
	}
	if (inodes[src].is_dir) {
		inodes[inodes[src].parent].nlink--;
		inodes[dir].nlink++;
	}
	inode_unlink_from_parent(src);
	memcpy(inodes[src].name, name, len);
	inodes[src].name[len] = '\0';
	inodes[src].parent = dir;
	inodes[src].sibling = inodes[dir].child;
	inodes[dir].child = src;
	return 0;
}

int ramfs_stat(const char *path, struct ramfs_stat *st)
{
	int ino = lookup(path), i;

	if (ino < 0)
		return -1;
	st->ino = ino;
	st->is_dir = inodes[ino].is_dir;
	st->size = inodes[ino].size;
	st->nlink = inodes[ino].nlink;
	st->blocks = 0;
	if (!inodes[ino].is_dir)
		for (i = 0; i < FILE_BLOCKS; i++)
			st->blocks += inodes[ino].blocks[i] != NONE;
	return 0;
}

/* Children are kept in creation order; readdir presents them sorted by
 * picking the index-th smallest name. */
int ramfs_readdir(const char *path, int index, struct ramfs_dirent *ent)
{
	int dir = lookup(path), c, best, rank;
	const char *prev = NULL;

	if (dir < 0)
		return -1;
	if (!inodes[dir].is_dir)
		return fail(ENOTDIR);
	for (rank = 0; rank <= index; rank++) {
		best = NONE;
		for (c = inodes[dir].child; c != NONE; c = inodes[c].sibling) {
			if (prev && strcmp(inodes[c].name, prev) <= 0)
				continue;
			if (best == NONE || strcmp(inodes[c].name, inodes[best].name) < 0)
				best = c;
		}
		if (best == NONE)
			return 0;
		prev = inodes[best].name;
	}
	ent->ino = best;
	ent->is_dir = inodes[best].is_dir;
	strlcpy(ent->name, inodes[best].name, sizeof(ent->name));
	return 1;
}

long ramfs_free_blocks(void)
{
	return blocks_free;
}

static long du(int ino)
{
	long total = 0;
	int c;

	if (!inodes[ino].is_dir)
		return inodes[ino].size;
	for (c = inodes[ino].child; c != NONE; c = inodes[c].sibling)
		total += du(c);
	return total;
}

long ramfs_du(const char *path)
{
	int ino = lookup(path);

	return ino < 0 ? -1 : du(ino);
}

/* --- the simple API ------------------------------------------------------- */

int ramfs_open(const char *name, int create)
{
	return ramfs_fopen(name, RAMFS_O_RDWR | RAMFS_O_APPEND |
			   (create ? RAMFS_O_CREAT | RAMFS_O_MKPARENTS : 0));
}

long ramfs_write(int fd, const void *buf, size_t len)
{
	struct ofile *f = get_fd(fd);

	if (!f) {
		errno = EINVAL;
		return -1;
	}
	return file_write(&inodes[f->ino], buf, len, inodes[f->ino].size);
}

long ramfs_read(int fd, void *buf, size_t len, size_t off)
{
	struct ofile *f = get_fd(fd);

	if (!f) {
		errno = EINVAL;
		return -1;
	}
	return file_read(&inodes[f->ino], buf, len, (long)off);
}

long ramfs_size(int fd)
{
	struct ofile *f = get_fd(fd);

	return f ? inodes[f->ino].size : -1;
}

int ramfs_count(void)
{
	int i, n = 0;

	for (i = 1; i < NINODES; i++)
		n += inodes[i].used && !inodes[i].is_dir;
	return n;
}
