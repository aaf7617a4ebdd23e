/*
 * check_util.c - hand-built traces for the unit tests (see check_util.h).
 */
#include <check.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "check_util.h"
#include "trace_meta.h"

void tb_start(struct tb *b, const char *name)
{
	char path[700];

	snprintf(b->dir, sizeof(b->dir), "%s/%s", check_tmpdir(), name);
	ck_assert_int_eq(mkdir(b->dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/base", b->dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/records", b->dir);
	ck_assert_int_eq(trace_writer_open(path, &b->w), 0);
}

void tb_base(struct tb *b, uint64_t id, uint64_t parent, const char *name, const char *path,
	     const void *data, size_t len, mode_t mode)
{
	struct trace_rec r = {.op = TRACE_OP_BASE, .id = id, .parent = parent, .name = name,
			      .name_len = (uint32_t)strlen(name)};
	char full[1400];
	int fd;

	snprintf(full, sizeof(full), "%s/base/%s", b->dir, path);
	if (!data) {
		ck_assert_int_eq(mkdir(full, mode & 07777), 0);
		r.mode = S_IFDIR | (mode & 07777);
	} else {
		fd = open(full, O_WRONLY | O_CREAT | O_EXCL, mode & 07777);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
		ck_assert_int_eq(fchmod(fd, mode & 07777), 0);
		close(fd);
		r.mode = S_IFREG | (mode & 07777);
		r.len = len;
		r.id2 = trace_content_hash(data, len);
	}
	ck_assert_int_eq(trace_append(b->w, &r), 0);
}

void tb_rec(struct tb *b, struct trace_rec r)
{
	if (r.op == TRACE_OP_WRITE && r.result == 0)
		r.result = (int32_t)r.data_len;
	ck_assert_int_eq(trace_append(b->w, &r), 0);
}

void tb_meta(const char *dir)
{
	json_object *m = json_object_new_object();
	char path[700];

	json_object_object_add(m, "status", json_object_new_string("complete"));
	json_object_object_add(m, "start_ns",
			       json_object_new_int64(1700000000000000000));
	ck_assert_int_eq(trace_meta_seal(dir, m, NULL, NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	ck_assert_int_eq(json_object_to_file(path, m), 0);
	json_object_put(m);
}

struct ops_trace *tb_finish(struct tb *b)
{
	struct ops_trace *t;
	char err[256];

	ck_assert_int_eq(trace_writer_close(b->w), 0);
	tb_meta(b->dir);
	ck_assert_int_eq(ops_load(b->dir, 0, &t, err, sizeof(err)), 0);
	return t;
}
