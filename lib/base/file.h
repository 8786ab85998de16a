/* Files: whole-file reads with a size cap, and crash-safe atomic writes. */
#ifndef ACME_LIB_FILE_H
#define ACME_LIB_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/error.h"

/* Write data to path atomically: temporary file in the same directory
 * (created with `mode`), write, fsync, rename over path, fsync the
 * directory. On failure path is untouched and the temporary is removed. */
int acme__file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            acme__err *err);
/* The same, leaving the fsync of the directory to the caller, who writes
 * several files of one directory and syncs it once (acme__file_sync_dir_of)
 * before it counts them durable. */
int acme__file_write_synced(const char *path, const void *data, size_t len, mode_t mode,
                            acme__err *err);
/* The same without the fsyncs: all or nothing for readers, but not made
 * durable, for files that do not outlive a crash's meaning (an http-01
 * answer is useless after a restart anyway, and its fsyncs would sit on the
 * critical path of every validation). */
int acme__file_write_visible(const char *path, const void *data, size_t len, mode_t mode,
                             acme__err *err);
/* Make path another name of the existing file `from` (a hard link), atomically
 * replacing what path held: link to a temporary name beside path, rename
 * over path, fsync the directory. from must already be durable. Costs no
 * new inode and no data write. ACME_ERR_UNSUPPORTED when the filesystem
 * cannot link (the caller then writes a copy); ACME_ERR_IO otherwise. */
int acme__file_link_atomic(const char *from, const char *path, acme__err *err);
/* Make path a symbolic link holding target, atomically replacing what path
 * held (a file or an older link), as acme__file_link_atomic does; without
 * sync_dir the caller fsyncs the directory (once for several links).
 * ACME_ERR_UNSUPPORTED when the filesystem has no symbolic links. */
int acme__file_symlink_atomic(const char *target, const char *path, int sync_dir,
                              acme__err *err);
/* Read a whole file (at most max bytes, else ACME_ERR_TOO_LARGE) into out.
 * ACME_ERR_NOT_FOUND when it does not exist, ACME_ERR_IO otherwise. */
int acme__file_read(const char *path, size_t max, acme__buf *out, acme__err *err);
/* fsync the directory that holds path (so a rename or unlink is durable). */
int acme__file_sync_dir_of(const char *path);
/* Create dir and its missing parents with mode (existing ones are kept). */
int acme__file_mkdirs(const char *dir, mode_t mode, acme__err *err);

#endif
