/* config_file.c: read a configuration file whole, safely: a regular file of at
 * most 1 MiB. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *
file_kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a file";
}

/* The number of the line at offset off of text. */
static int
line_at(const char *text, size_t off)
{
    int line = 1;

    for (size_t i = 0; i < off; i++)
        line += text[i] == '\n';
    return line;
}

/*
 * Opened without blocking (a FIFO's open() waits for a writer, and the
 * master would stop answering on SIGHUP), checked before it is read (a
 * device such as /dev/zero never ends), and read with a bound (a regular
 * file may grow under us).
 */
int
config_file_read(const char *path, char **text, size_t *len, char *err,
                 size_t errlen)
{
    struct stat st;
    char *buf = NULL, *nul;
    size_t n = 0;
    int fd, rc;

    *text = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file (%s)", path,
                 file_kind(st.st_mode));
        rc = -EINVAL;
        goto fail;
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        snprintf(err, errlen, "%s: too large (%lld bytes, at most 1 MiB)", path,
                 (long long)st.st_size);
        rc = -EFBIG;
        goto fail;
    }
    /* One byte more than allowed: a file that grew is seen to have. */
    if ((buf = malloc(CONFIG_FILE_MAX + 2)) == NULL) {
        rc = -ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, CONFIG_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(err, errlen, "%s: %s", path, strerror(-rc));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > CONFIG_FILE_MAX) {
            snprintf(err, errlen, "%s: too large (more than 1 MiB)", path);
            rc = -EFBIG;
            goto fail;
        }
    }
    /* inih and every parser read C strings: a NUL would cut a value. */
    if ((nul = memchr(buf, '\0', n)) != NULL) {
        snprintf(err, errlen, "%s:%d: a NUL byte", path,
                 line_at(buf, (size_t)(nul - buf)));
        rc = -EINVAL;
        goto fail;
    }
    buf[n] = '\0';
    close(fd);
    *text = buf;
    *len = n;
    return 0;
fail:
    free(buf);
    close(fd);
    return rc;
}
