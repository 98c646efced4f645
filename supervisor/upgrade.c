/* upgrade.c: handoff replaces its own image with a new binary in the same process, the state handed over in a memfd. */
#include "upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carry.h"
#include "handle.h"
#include "deploy.h"
#include "state.h"
#include "version.h"

extern char **environ;

/* A memfd holding doc's text, at offset 0; -errno. */
static int
doc_fd(const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    size_t len, off = 0;
    int fd, e;

    if (text == NULL)
        return -ENOMEM;
    len = strlen(text);
    if ((fd = memfd_create("handoff-state", MFD_CLOEXEC)) < 0) {
        e = -errno;
        free(text);
        return e;
    }
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? -errno : -EIO;
            free(text);
            close(fd);
            return e;
        }
        off += (size_t)n;
    }
    free(text);
    if (lseek(fd, 0, SEEK_SET) < 0) {
        e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* The first line of what fd holds (the check's standard error), into buf. */
static void
first_line(int fd, char *buf, size_t size)
{
    ssize_t n;

    buf[0] = '\0';
    if (lseek(fd, 0, SEEK_SET) < 0 || (n = read(fd, buf, size - 1)) <= 0)
        return;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

/*
 * `binary --upgrade-check` with the document on its standard input: 0 if
 * it exits 0 within timeout_ms. Waited for here, the master's loop held:
 * the check is short, and its status must not reach the master's reaper.
 */
static int
check(const char *binary, int bin, int docfd, uint64_t timeout_ms, char *why,
      size_t len)
{
    char *const argv[] = {(char *)binary, UPGRADE_CHECK_FLAG, NULL};
    char said[200], yes[200];
    int errfd = memfd_create("handoff-check", MFD_CLOEXEC), status = 0;
    int outfd = memfd_create("handoff-check", MFD_CLOEXEC);
    struct timespec tick = {0, 5000000};
    uint64_t waited = 0;
    pid_t pid, r = 0;

    if (errfd < 0 || outfd < 0) {
        int e = errno;
        if (errfd >= 0)
            close(errfd);
        snprintf(why, len, "memfd: %s", strerror(e));
        return -e;
    }
    if ((pid = fork()) < 0) {
        int e = errno;
        close(errfd);
        close(outfd);
        snprintf(why, len, "fork: %s", strerror(e));
        return -e;
    }
    if (pid == 0) {
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(docfd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(errfd, 2) < 0)
            _exit(126);
        execveat(bin, "", argv, environ, AT_EMPTY_PATH);
        dprintf(2, "cannot run %s: %s\n", binary, strerror(errno));
        _exit(127);
    }
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && waited < timeout_ms) {
        nanosleep(&tick, NULL);
        waited += 5;
    }
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        close(errfd);
        close(outfd);
        snprintf(why, len, "%s %s did not answer within %llu ms", binary,
                 UPGRADE_CHECK_FLAG, (unsigned long long)timeout_ms);
        return -ETIMEDOUT;
    }
    first_line(errfd, said, sizeof(said));
    first_line(outfd, yes, sizeof(yes));
    close(errfd);
    close(outfd);
    /* Exit 0 is not enough: /bin/true exits 0. A handoff says so. */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
        strncmp(yes, UPGRADE_ACCEPTED, strlen(UPGRADE_ACCEPTED)) == 0)
        return 0;
    if (WIFSIGNALED(status))
        snprintf(why, len, "%s refused the state: killed by signal %d%s%s",
                 binary, WTERMSIG(status), said[0] ? ": " : "", said);
    else if (WEXITSTATUS(status) == 0)
        snprintf(why, len, "%s %s exits 0 without \"%s\": not handoff", binary,
                 UPGRADE_CHECK_FLAG, UPGRADE_ACCEPTED);
    else
        snprintf(why, len, "%s refused the state (exit %d): %s", binary,
                 WEXITSTATUS(status),
                 said[0] ? said : "it says nothing: not handoff?");
    return -EPROTO;
}

/* Whether environment entry e is NAME=... */
static int
is_var(const char *e, const char *name)
{
    size_t n = strlen(name);

    return strncmp(e, name, n) == 0 && e[n] == '=';
}

/*
 * environ with add[0..nadd) ("NAME=value", taken) in front and every
 * entry of the names in drop left out; NULL: no memory (add freed).
 */
static char **
env_with(char **add, size_t nadd, const char *const *drop, size_t ndrop)
{
    size_t n = 0, k = 0;
    char **env;

    while (environ[n] != NULL)
        n++;
    for (size_t i = 0; i < nadd; i++)
        if (add[i] == NULL)
            goto fail;
    if ((env = calloc(n + nadd + 1, sizeof(*env))) == NULL)
        goto fail;
    for (size_t i = 0; i < nadd; i++)
        env[k++] = add[i];
    for (size_t i = 0; i < n; i++) {
        int keep = 1;

        for (size_t d = 0; d < ndrop; d++)
            keep = keep && !is_var(environ[i], drop[d]);
        if (keep)
            env[k++] = environ[i];
    }
    return env;
fail:
    for (size_t i = 0; i < nadd; i++)
        free(add[i]);
    return NULL;
}

static const char *const upgrade_vars[] = {UPGRADE_FD_ENV, UPGRADE_BACK_ENV,
                                           UPGRADE_FAILED_ENV};

static char *
var_int(const char *name, int v)
{
    char *s;

    return asprintf(&s, "%s=%d", name, v) < 0 ? NULL : s;
}

/* Whether the file bin (O_PATH) begins as an ELF executable does. */
static int
elf(int bin)
{
    char path[64], magic[4];
    int fd, ok;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", bin);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 1; /* unreadable but executable: its check decides */
    ok = read(fd, magic, 4) == 4 && memcmp(magic, "\177ELF", 4) == 0;
    close(fd);
    return ok;
}

/*
 * binary, opened once: the file checked is the file run, whatever replaces
 * the path meanwhile (the check runs for up to timeout_ms). An fd, or
 * -errno with why.
 */
static int
open_binary(const char *binary, char *why, size_t len)
{
    struct stat st;
    int bin = open(binary, O_PATH | O_CLOEXEC), rc;

    if (bin < 0 || fstat(bin, &st) < 0) {
        rc = -errno;
        if (bin >= 0)
            close(bin);
        snprintf(why, len, "%s: %s", binary, strerror(-rc));
        return rc;
    }
    rc = !S_ISREG(st.st_mode) ? -EISDIR : !(st.st_mode & 0111) ? -EACCES : 0;
    if (rc < 0) {
        close(bin);
        snprintf(why, len, "%s: %s", binary,
                 rc == -EISDIR ? "not a file" : strerror(-rc));
        return -EACCES;
    }
    /* The file is run as this process (root, often) from the descriptor
     * opened here, whatever the path names later; but its owner, or anyone
     * who may write it, could change what runs: only root's or this user's
     * own, written by nobody else. */
    if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022)) {
        close(bin);
        snprintf(why, len,
                 "%s: owned by uid %u%s: only a file of root's or handoff's "
                 "own user that no one else may write is run",
                 binary, (unsigned)st.st_uid,
                 st.st_mode & 022 ? " and writable by others" : "");
        return -EPERM;
    }
    /* handoff is a compiled program: a script (run by name through its
     * interpreter, which an exec by fd cannot give it) is not. */
    if (!elf(bin)) {
        close(bin);
        snprintf(why, len, "%s: not an ELF executable (a script?): not handoff",
                 binary);
        return -ENOEXEC;
    }
    return bin;
}

int
upgrade_exec(const struct upgrade_ops *ops, const char *binary,
             char *const argv[], uint64_t timeout_ms, char *why, size_t len)
{
    sigset_t all, was;
    json_t *doc;
    char **env, *vars[2];
    int fd, bin, back, rc;

    if (ops->busy(ops->arg, why, len))
        return -EBUSY;
    if ((bin = open_binary(binary, why, len)) < 0)
        return bin;
    if ((doc = ops->write(ops->arg)) == NULL) {
        close(bin);
        snprintf(why, len, "the state could not be written: out of memory");
        return -ENOMEM;
    }
    fd = doc_fd(doc);
    json_decref(doc);
    if (fd < 0) {
        close(bin);
        snprintf(why, len, "the state could not be written: %s", strerror(-fd));
        return fd;
    }
    if ((rc = check(binary, bin, fd, timeout_ms, why, len)) < 0) {
        close(bin);
        close(fd);
        return rc;
    }
    /* This image, for the new one to execute again with the state should
     * it fail to take it over (upgrade_back). */
    if ((back = open("/proc/self/exe", O_PATH | O_CLOEXEC)) < 0) {
        rc = -errno;
        close(bin);
        close(fd);
        snprintf(why, len, "/proc/self/exe: %s", strerror(-rc));
        return rc;
    }
    vars[0] = var_int(UPGRADE_FD_ENV, fd);
    vars[1] = var_int(UPGRADE_BACK_ENV, back);
    if (lseek(fd, 0, SEEK_SET) < 0 ||
        (env = env_with(vars, 2, upgrade_vars, 3)) == NULL) {
        close(bin);
        close(fd);
        close(back);
        snprintf(why, len, "out of memory");
        return -ENOMEM;
    }
    /* From here to the new image's handlers, a signal waits: SIGCHLD, a
     * SIGUSR2 or a SIGTERM sent meanwhile is taken then. */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &was);
    if ((rc = ops->inherit(ops->arg, 1)) == 0 && fcntl(fd, F_SETFD, 0) == 0 &&
        fcntl(back, F_SETFD, 0) == 0) {
        execveat(bin, "", argv, env, AT_EMPTY_PATH);
        rc = -errno;
        snprintf(why, len, "execve %s: %s", binary, strerror(-rc));
        (void)ops->inherit(ops->arg, 0);
    } else {
        if (rc == 0)
            rc = -errno;
        snprintf(why, len, "the fds could not be handed over: %s",
                 strerror(-rc));
    }
    sigprocmask(SIG_SETMASK, &was, NULL);
    free(env);
    free(vars[0]);
    free(vars[1]);
    close(bin);
    close(fd);
    close(back);
    return rc;
}

/* The one upgrade waiting for its turn of the loop (upgrade_start). */
static struct pending {
    uv_check_t *check;
    uv_idle_t *idle; /* keeps the loop's poll from waiting meanwhile */
    int turns;
    sigset_t was;
    const struct upgrade_ops *ops;
    char binary[PATH_MAX];
    char *const *argv;
    uint64_t timeout_ms;
    void (*done)(void *, int, const char *);
    void *arg;
} pending;

static void
on_idle(uv_idle_t *h)
{
    (void)h;
}

static void
on_check(uv_check_t *h)
{
    struct pending *p = &pending;
    char why[1024] = "refused";
    int rc;

    (void)h;
    /* The check phase after the poll that follows the block: the signals
     * caught before it are in the handlers' hands now. */
    if (++p->turns < 2)
        return;
    handle_close(p->check);
    handle_close(p->idle);
    p->check = NULL;
    p->idle = NULL;
    rc = upgrade_exec(p->ops, p->binary, p->argv, p->timeout_ms, why,
                      sizeof(why));
    sigprocmask(SIG_SETMASK, &p->was, NULL);
    p->done(p->arg, rc, why);
}

int
upgrade_start(uv_loop_t *loop, const struct upgrade_ops *ops,
              const char *binary, char *const argv[], uint64_t timeout_ms,
              void (*done)(void *arg, int rc, const char *why), void *arg)
{
    struct pending *p = &pending;
    sigset_t all;

    if (p->check != NULL)
        return -EBUSY;
    if (snprintf(p->binary, sizeof(p->binary), "%s", binary) >=
        (int)sizeof(p->binary))
        return -ENAMETOOLONG;
    p->check = malloc(sizeof(*p->check));
    p->idle = malloc(sizeof(*p->idle));
    if (p->check == NULL || p->idle == NULL) {
        free(p->check);
        free(p->idle);
        p->check = NULL;
        p->idle = NULL;
        return -ENOMEM;
    }
    uv_check_init(loop, p->check);
    uv_idle_init(loop, p->idle);
    p->check->data = NULL;
    p->idle->data = NULL;
    p->turns = 0;
    p->ops = ops;
    p->argv = argv;
    p->timeout_ms = timeout_ms;
    p->done = done;
    p->arg = arg;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &p->was);
    uv_check_start(p->check, on_check);
    uv_idle_start(p->idle, on_idle);
    return 0;
}

/* The image before this one (upgrade_back), and why it came back here. */
static int back_fd = -1;
static char failed[512];

const char *
upgrade_failed(void)
{
    return failed[0] ? failed : NULL;
}

/* NAME's value as a descriptor of this process (removed from the
 * environment), or -1. */
static int
take_fd(const char *name)
{
    const char *v = getenv(name);
    char *end;
    long fd;

    if (v == NULL)
        return -1;
    errno = 0;
    fd = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || fd < 3 || fd > 1 << 20 ||
        fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
        fd = -1;
    unsetenv(name);
    return (int)fd;
}

json_t *
upgrade_take(char *err, size_t len)
{
    const char *v = getenv(UPGRADE_FD_ENV), *why = getenv(UPGRADE_FAILED_ENV);
    json_error_t je;
    json_t *doc;
    char *end;
    long fd;
    FILE *f;

    err[0] = '\0';
    back_fd = take_fd(UPGRADE_BACK_ENV);
    snprintf(failed, sizeof(failed), "%s", why ? why : "");
    unsetenv(UPGRADE_FAILED_ENV);
    if (v == NULL)
        return NULL;
    errno = 0;
    fd = strtol(v, &end, 10);
    unsetenv(UPGRADE_FD_ENV);
    if (*v == '\0' || *end != '\0' || errno != 0 || fd < 3 || fd > 1 << 20) {
        snprintf(err, len, "%s=%s: not a descriptor", UPGRADE_FD_ENV, v);
        return NULL;
    }
    if ((f = fdopen((int)fd, "r")) == NULL) {
        snprintf(err, len, "%s=%ld: %s", UPGRADE_FD_ENV, fd, strerror(errno));
        return NULL;
    }
    doc = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (doc == NULL)
        snprintf(err, len, "the state handed over: line %d: %s", je.line,
                 je.text);
    return doc;
}

/* FD_CLOEXEC cleared on every descriptor o names (under "fd" and "chan"),
 * however deep. */
static void
keep_named_fds(const json_t *o)
{
    const char *key;
    json_t *v;
    size_t i;

    if (json_is_array(o))
        json_array_foreach(o, i, v) keep_named_fds(v);
    if (!json_is_object(o))
        return;
    json_object_foreach((json_t *)o, key, v)
    {
        if (json_is_integer(v) &&
            (strcmp(key, "fd") == 0 || strcmp(key, "chan") == 0) &&
            json_integer_value(v) > 2 && json_integer_value(v) < 1 << 20)
            (void)fcntl((int)json_integer_value(v), F_SETFD, 0);
        else
            keep_named_fds(v);
    }
}

int
upgrade_back(const json_t *doc, char *const argv[], const char *why)
{
    char **env, *vars[2];
    int fd;

    if (back_fd < 0)
        return -ENOENT;
    if ((fd = doc_fd(doc)) < 0)
        return fd;
    keep_named_fds(doc);
    vars[0] = var_int(UPGRADE_FD_ENV, fd);
    if (asprintf(&vars[1], "%s=%s", UPGRADE_FAILED_ENV, why) < 0)
        vars[1] = NULL;
    for (char *p = vars[1]; p != NULL && *p; p++)
        if (*p == '\n')
            *p = ' ';
    if ((env = env_with(vars, 2, upgrade_vars, 3)) == NULL) {
        close(fd);
        return -ENOMEM;
    }
    if (fcntl(fd, F_SETFD, 0) == 0)
        execveat(back_fd, "", argv, env, AT_EMPTY_PATH);
    free(vars[0]);
    free(vars[1]);
    free(env);
    close(fd);
    return -errno;
}

int
upgrade_binary(const char *argv0, char *out, size_t size)
{
    const char *path = getenv("PATH");
    char cwd[4096];

    if (strchr(argv0, '/') != NULL) {
        if (argv0[0] == '/')
            return snprintf(out, size, "%s", argv0) < (int)size ? 0
                                                                : -ENAMETOOLONG;
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return -errno;
        return snprintf(out, size, "%s/%s", cwd, argv0) < (int)size
                   ? 0
                   : -ENAMETOOLONG;
    }
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");

        if (n > 0 &&
            (size_t)snprintf(out, size, "%.*s/%s", (int)n, p, argv0) < size &&
            access(out, X_OK) == 0)
            return 0;
        p += n + (p[n] == ':');
    }
    return -ENOENT;
}

int
upgrade_check(FILE *in, FILE *out, FILE *err_out)
{
    json_error_t je;
    json_t *doc = json_loadf(in, JSON_REJECT_DUPLICATES, &je);
    char err[1024];
    int rc;

    if (doc == NULL) {
        fprintf(err_out, "handoff %s: the state: line %d: %s\n",
                handoff_version, je.line, je.text);
        return 1;
    }
    rc = carry_check(doc, err, sizeof(err));
    json_decref(doc);
    if (rc < 0) {
        fprintf(err_out, "handoff %s: %s\n", handoff_version, err);
        return 1;
    }
    fprintf(out, "%s%s\n", UPGRADE_ACCEPTED, handoff_version);
    return 0;
}
