/* source.h: the configuration file's bytes as loaded, kept to build the same
 * configuration again (an upgrade's new image) after the file has changed. */
#ifndef HANDOFF_SOURCE_H
#define HANDOFF_SOURCE_H

#include <stddef.h>

#include "config.h"

/*
 * config_load, keeping what was read: args->file whole (at most
 * CONFIG_FILE_MAX bytes, refused with a message naming it otherwise) in
 * *text (NUL-terminated, free() it) and *len, parsed as that file, so that
 * messages read "FILE:LINE: key: ..." as config_load's. No file: *text
 * NULL, *len 0. Returns what config_load returns, with its messages; on
 * error *text is NULL.
 */
int source_load(const struct config_args *args, struct config **cfg,
                char **text, size_t *len, char *err, size_t errlen);

/*
 * The configuration source_load gave, from args and the bytes it kept
 * (text NULL: there was no file), without reading the file again: it may
 * have been edited since. Names args->file in messages. The checks against
 * the system (users, directories) run again. Returns 0 or -errno with err.
 */
int source_rebuild(const struct config_args *args, const char *text, size_t len,
                   struct config **cfg, char *err, size_t errlen);

#endif
