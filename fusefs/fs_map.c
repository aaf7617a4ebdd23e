/*
 * fs_map.c - faultline-fs's inode table: backing (st_dev, st_ino) to
 * faultline file id, and to the node the kernel holds lookups on.
 *
 * Ids are what the trace names files by (fs_i.h, "FILE IDS" in
 * faultline-fs.c).  A slot lives as long as the recorder; a node lives
 * from the lookup that creates it to the forget that brings its lookup
 * count to 0.  Everything here runs under fs->tab_lock, taken inside.
 */
#define FUSE_USE_VERSION 312
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_i.h"

/* ---- the inode table ---- */

static size_t map_hash(uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ (dev << 32 | dev >> 32)) * UINT64_C(0x9e3779b97f4a7c15);

	return (size_t)(h ^ h >> 29);
}

/* The slot holding (dev, ino), or the empty slot where it belongs. */
static struct fs_slot *map_probe(const struct fs_map *m, uint64_t dev,
				 uint64_t ino)
{
	size_t mask = m->cap - 1, i = map_hash(dev, ino) & mask;

	while (m->slots[i].id && (m->slots[i].dev != dev || m->slots[i].ino != ino))
		i = (i + 1) & mask;
	return &m->slots[i];
}

/* Doubles the table (or makes its first 1024 slots).  Returns 0 or -ENOMEM. */
int map_grow(struct fs_map *m)
{
	struct fs_map old = *m;
	size_t i;

	m->cap = old.cap ? old.cap * 2 : 1024;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (!m->slots) {
		*m = old;
		return -ENOMEM;
	}
	for (i = 0; i < old.cap; i++)
		if (old.slots[i].id)
			*map_probe(m, old.slots[i].dev, old.slots[i].ino) = old.slots[i];
	free(old.slots);
	return 0;
}

/*
 * The slot of (dev, ino), added if missing.  Its id becomes want when
 * want != 0 (a create-type op: the inode is new), else stays as it was
 * or, for a new slot, is a fresh id.  Caller holds fs->tab_lock.
 * Returns NULL when out of memory.
 */
struct fs_slot *fs_slot(struct fs *fs, uint64_t dev, uint64_t ino,
			       uint64_t want)
{
	struct fs_map *m = &fs->map;
	struct fs_slot *s;

	if ((m->used + 1) * 4 > m->cap * 3 && map_grow(m))
		return NULL;
	s = map_probe(m, dev, ino);
	if (!s->id) {
		*s = (struct fs_slot){.dev = dev, .ino = ino};
		m->used++;
	}
	if (want)
		s->id = want;
	else if (!s->id)
		s->id = fs_new_id(fs);
	return s;
}

/* File id of the inode st describes, or 0 if the table does not know it. */
uint64_t fs_id_of(struct fs *fs, const struct stat *st)
{
	uint64_t id;

	pthread_mutex_lock(&fs->tab_lock);
	id = map_probe(&fs->map, st->st_dev, st->st_ino)->id;
	pthread_mutex_unlock(&fs->tab_lock);
	return id;
}

/* File id of entry name in directory dirfd, 0 if there is none. */
uint64_t fs_entry_id(struct fs *fs, int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return fs_id_of(fs, &st);
}

/*
 * Takes one kernel lookup on the node of the inode st describes; fd is
 * an O_PATH fd of it, which this call owns from now on.  want: as for
 * fs_slot().  Stores the node in *out.  Returns 0 or -ENOMEM.
 */
int fs_node_ref(struct fs *fs, int fd, const struct stat *st,
		       uint64_t want, struct fs_node **out)
{
	struct fs_node *n = NULL;
	struct fs_slot *s;
	int err = -ENOMEM;

	pthread_mutex_lock(&fs->tab_lock);
	s = fs_slot(fs, st->st_dev, st->st_ino, want);
	if (!s)
		goto out_unlock;
	n = s->node;
	if (n) {
		/* A live node pins its inode, so a new inode never finds one. */
		assert(!want);
		n->nlookup++;
		err = 0;
		goto out_unlock;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		goto out_unlock;
	pthread_mutex_init(&n->lock, NULL);
	n->fd = fd;
	fd = -1;
	n->id = s->id;
	n->nlookup = 1;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	s->node = n;
	err = 0;
out_unlock:
	pthread_mutex_unlock(&fs->tab_lock);
	if (fd >= 0)
		close(fd);
	*out = n;
	return err;
}

/* Drops count kernel lookups; the last one frees the node (its id stays in the map). */
void fs_node_unref(struct fs *fs, struct fs_node *n, uint64_t count)
{
	struct fs_slot *s;

	if (n == &fs->root || n == &fs->ctl)
		return;
	pthread_mutex_lock(&fs->tab_lock);
	assert(n->nlookup >= count);
	n->nlookup -= count;
	if (n->nlookup) {
		pthread_mutex_unlock(&fs->tab_lock);
		return;
	}
	s = map_probe(&fs->map, n->dev, n->ino);
	if (s->node == n)
		s->node = NULL;
	pthread_mutex_unlock(&fs->tab_lock);
	close(n->fd);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

/*
 * Takes a kernel lookup on the node of the inode that fd (an O_PATH fd,
 * owned by this call from now on) refers to, filling *e for the reply.
 * want: 0 for a plain lookup, else the new id of an inode just created.
 * Returns 0 or -errno.
 */
int fs_entry_of_fd(struct fs *fs, int fd, uint64_t want,
			  struct fuse_entry_param *e)
{
	struct fs_node *n;
	int err;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = FS_TIMEOUT;
	e->entry_timeout = FS_TIMEOUT;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = fs_node_ref(fs, fd, &e->attr, want, &n);
	if (!err)
		e->ino = (uintptr_t)n;
	return err;
}

/* Looks name up in directory dir: fs_entry_of_fd() of a plain lookup. */
int fs_do_lookup(struct fs *fs, struct fs_node *dir, const char *name,
			struct fuse_entry_param *e)
{
	int fd = openat(dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fs_entry_of_fd(fs, fd, 0, e);
}
