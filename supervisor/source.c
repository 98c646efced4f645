/* source.c: the configuration file's bytes as loaded, and the same
 * configuration built from them again. */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* len bytes of text (NULL: no file) parsed as args->file, then the flags. */
static int
parse(const struct config_args *args, const char *text, size_t len,
      struct config **cfg, char *err, size_t errlen)
{
    char nl[] = "\n"; /* fmemopen() takes no empty buffer */
    FILE *f = NULL;
    int rc;

    /* Mode "r": the buffer is read, never written. */
    if (text != NULL && (f = fmemopen(len > 0 ? (char *)text : nl,
                                      len > 0 ? len : 1, "r")) == NULL) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", args->file, strerror(-rc));
        return rc;
    }
    rc = config_load_stream(f, args->file, args, cfg, err, errlen);
    if (f != NULL)
        fclose(f);
    return rc;
}

int
source_load(const struct config_args *args, struct config **cfg, char **text,
            size_t *len, char *err, size_t errlen)
{
    char *buf = NULL, *fit;
    size_t n = 0;
    int rc;

    *text = NULL;
    *len = 0;
    if (args->file != NULL &&
        (rc = config_file_read(args->file, &buf, &n, err, errlen)) < 0)
        return rc;
    if ((rc = parse(args, buf, n, cfg, err, errlen)) < 0) {
        free(buf);
        return rc;
    }
    /* The read's buffer has room for the largest file; each live plan
     * keeps only what the file held. */
    if (buf != NULL && (fit = realloc(buf, n + 1)) != NULL)
        buf = fit;
    *text = buf;
    *len = n;
    return 0;
}

int
source_rebuild(const struct config_args *args, const char *text, size_t len,
               struct config **cfg, char *err, size_t errlen)
{
    /* The bytes come from outside this image (an upgrade's state): held to
     * what source_load could have kept, not cut short at a NUL. */
    if ((text == NULL) != (args->file == NULL)) {
        snprintf(err, errlen, "%s: %s", args->file ? args->file : "no file",
                 text ? "bytes kept without a file"
                      : "the bytes loaded are missing");
        return -EINVAL;
    }
    if (text != NULL && len > CONFIG_FILE_MAX) {
        snprintf(err, errlen, "%s: too large (%zu bytes, at most 1 MiB)",
                 args->file, len);
        return -EFBIG;
    }
    if (text != NULL && memchr(text, '\0', len) != NULL) {
        snprintf(err, errlen, "%s: a NUL byte in the bytes loaded", args->file);
        return -EINVAL;
    }
    return parse(args, text, len, cfg, err, errlen);
}
