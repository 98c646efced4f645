/* config_check.c: checks of configuration values against the system, and their
 * messages. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"

/*
 * The variables handoff sets in a worker's environment (worker.c): a
 * name ending in '=' is one variable, one ending otherwise a prefix.
 */
static const char *const handoff_vars[] = {
    "LISTEN_FDS=",          "LISTEN_PID=",
    "LISTEN_FDNAMES=",      "NOTIFY_SOCKET=",
    "HANDOFF_FD=",          "HANDOFF_GENERATION=",
    "SERVER_STARTER_PORT=", "EINHORN_FD_COUNT=",
    "EINHORN_FD_",          "NGINX=",
    "GUNICORN_FD=",         "HANDOFF_QUIC_COOKIE=",
    "WATCHDOG_USEC=",       "WATCHDOG_PID=",
};

int
config_env_reserved(const char *kv)
{
    for (size_t i = 0; i < sizeof(handoff_vars) / sizeof(handoff_vars[0]); i++)
        if (strncmp(kv, handoff_vars[i], strlen(handoff_vars[i])) == 0)
            return 1;
    return 0;
}

const char *
config_env_error(const struct config *c, char *msg, size_t len)
{
    for (size_t i = 0; i < c->nenv; i++) {
        const char *kv = c->env[i];
        int n = (int)strcspn(kv, "=");

        if (config_env_reserved(kv)) {
            snprintf(msg, len, "%.*s: handoff sets it itself", n, kv);
            return msg;
        }
        /* With the shim handoff sets LD_PRELOAD, after the value it was
         * started with: a second one would hide the shim or be lost. */
        if (c->pass == PASS_SHIM && strncmp(kv, "LD_PRELOAD=", 11) == 0) {
            snprintf(msg, len,
                     "LD_PRELOAD: handoff sets it to load the "
                     "shim (pass = shim); give it in handoff's own "
                     "environment, which the shim is added to");
            return msg;
        }
    }
    return NULL;
}

const char *
config_drain_signal_error(int sig)
{
    switch (sig) {
    case SIGKILL:
    case SIGSTOP:
        return "drain_signal cannot be SIGKILL or SIGSTOP (drain_timeout "
               "ends in SIGKILL)";
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
        /* Ignored, continuing or stopping by default, and sent by the
         * system for other reasons (a child's exit, out-of-band data, a
         * terminal; the Go runtime sends itself SIGURG): no server takes
         * one for "finish and exit". */
        return "drain_signal cannot be SIGCHLD, SIGCONT, SIGURG, SIGTSTP, "
               "SIGTTIN or SIGTTOU: no server stops on it (use the "
               "server's graceful stop signal, e.g. SIGTERM or SIGQUIT)";
    }
    return NULL;
}

const char *
config_directory_error(const char *dir, char *msg, size_t len)
{
    struct stat st;

    if (stat(dir, &st) < 0)
        snprintf(msg, len, "directory \"%s\": %s", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        snprintf(msg, len, "directory \"%s\" is not a directory", dir);
    else
        return NULL;
    return msg;
}

const char *
config_control_error(const char *path, char *msg, size_t len)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    struct stat st;

    if (strcmp(path, "none") == 0 || slash == NULL || slash == path)
        return NULL;
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    /* bind() would say EACCES for a missing directory (libuv maps it). */
    if (stat(dir, &st) < 0) {
        snprintf(msg, len, "\"%s\": the directory %s: %s", path, dir,
                 strerror(errno));
        return msg;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(msg, len, "\"%s\": %s is not a directory", path, dir);
        return msg;
    }
    return NULL;
}

const char *
config_flows_error(const struct listen_conf *l, char *msg, size_t len)
{
    if (l->flows != FLOWS_QUIC ||
        (l->addr.dgram && l->traffic == TRAFFIC_STEERED))
        return NULL;
    snprintf(msg, len, "[listen %s]: flows = quic: %s", l->name,
             !l->addr.dgram ? "only for udp: addresses"
                            : "needs traffic = steered (a shared socket has "
                              "no generation to keep)");
    return msg;
}

const char *
config_metrics_error(const char *v, char *msg, size_t len)
{
    struct addr a;
    long port;

    if (addr_parse(v, &a, msg, len) == 0 && addr_family(&a) != AF_UNIX &&
        !a.dgram)
        return NULL;
    /* addr_parse's own message offers unix:, which metrics cannot use. */
    if (parse_int(v, 1, 65535, &port, NULL, 0) == 0)
        snprintf(msg, len,
                 "\"%s\": expected HOST:PORT, [IPV6]:PORT or "
                 ":PORT (for every address: \":%ld\")",
                 v, port);
    else
        snprintf(msg, len,
                 "\"%s\": expected HOST:PORT, [IPV6]:PORT or "
                 ":PORT (a TCP address)",
                 v);
    return msg;
}

const char *
config_line_error(const char *line, char *msg, size_t len)
{
    const char *sep, *blank;
    size_t klen;

    line += strspn(line, " \t");
    if (*line == '[' || *line == ';' || *line == '#' || *line == '\n' ||
        *line == '\r' || *line == '\0')
        return NULL;
    sep = strpbrk(line, "=:");
    if (sep == NULL || *sep == '=')
        return NULL; /* inih's syntax error, or a key = value */
    /* inih also splits at ':', which no key of handoff's holds. */
    klen = (size_t)(sep - line);
    blank = memchr(line, ' ', klen);
    if (blank == NULL)
        blank = memchr(line, '\t', klen);
    if (blank != NULL)
        snprintf(msg, len, "expected key = value: no '=' after \"%.*s\"",
                 (int)(blank - line), line);
    else
        snprintf(msg, len, "\"%.*s:\": expected key = value ('=', not ':')",
                 (int)klen, line);
    return msg;
}

/* May the user run by spawn (uid; (uid_t)-1 for handoff's own) exec st? */
static int
executable(const struct stat *st, uid_t uid, gid_t gid)
{
    if (uid == (uid_t)-1)
        uid = geteuid();
    if (uid == 0)
        return (st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
    if (st->st_uid == uid)
        return (st->st_mode & S_IXUSR) != 0;
    /* Supplementary groups are not looked at: group or other will do. */
    (void)gid;
    return (st->st_mode & (S_IXGRP | S_IXOTH)) != 0;
}

/* path relative to the worker's directory, as its exec sees it. */
static void
in_directory(const struct config *c, const char *path, char *out, size_t size)
{
    if (path[0] != '/' && c->directory != NULL)
        snprintf(out, size, "%s%s%s", c->directory,
                 c->directory[strlen(c->directory) - 1] == '/' ? "" : "/",
                 path);
    else
        snprintf(out, size, "%s", path);
}

/* 0: found and executable; else the reason in msg. */
static int
check_file(const struct config *c, const char *path, char *msg, size_t len)
{
    char full[PATH_MAX];
    struct stat st;

    in_directory(c, path, full, sizeof(full));
    if (stat(full, &st) < 0) {
        snprintf(msg, len, "\"%s\": %s", full, strerror(errno));
        return -errno;
    }
    if (!S_ISREG(st.st_mode) ||
        !executable(&st, c->user ? c->uid : (uid_t)-1, c->gid)) {
        snprintf(msg, len, "\"%s\": not an executable file%s%s", full,
                 c->user ? " for user " : "", c->user ? c->user : "");
        return -EACCES;
    }
    return 0;
}

int
config_check_command(const struct config *c, char *msg, size_t len)
{
    const char *cmd = c->argv[0], *path = getenv("PATH"), *p;
    char cand[PATH_MAX], denied[CONFIG_ERRLEN] = "";

    if (strchr(cmd, '/') != NULL)
        return check_file(c, cmd, msg, len);
    /* execvpe() searches the PATH of the master (the worker's clone
     * shares its memory), with glibc's default if it has none. */
    if (path == NULL)
        path = "/bin:/usr/bin";
    for (p = path;; p++) {
        size_t n = strcspn(p, ":");
        snprintf(cand, sizeof(cand), "%.*s%s%s", (int)n, p, n ? "/" : "", cmd);
        int rc = check_file(c, cand, msg, len);
        if (rc == 0)
            return 0;
        if (rc == -EACCES && denied[0] == '\0')
            snprintf(denied, sizeof(denied), "%s", msg);
        p += n;
        if (*p == '\0')
            break;
    }
    /* As execvp(): one found but not executable is what it reports. */
    if (denied[0] != '\0') {
        snprintf(msg, len, "%s", denied);
        return -EACCES;
    }
    snprintf(msg, len, "\"%s\": not found in PATH (%s)", cmd, path);
    return -ENOENT;
}

int
config_user_env(struct config *c)
{
    static const char *const names[] = {"HOME", "USER", "LOGNAME", "SHELL"};
    struct passwd *pw;
    const char *vals[4];
    char **env;

    parse_words_free(c->user_env);
    c->user_env = NULL;
    if (c->user == NULL || (pw = getpwuid(c->uid)) == NULL)
        return 0;
    vals[0] = pw->pw_dir;
    vals[1] = vals[2] = pw->pw_name;
    vals[3] = pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
    if ((env = calloc(5, sizeof(*env))) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < 4; i++)
        if (asprintf(&env[i], "%s=%s", names[i], vals[i]) < 0) {
            env[i] = NULL;
            parse_words_free(env);
            return -ENOMEM;
        }
    c->user_env = env;
    return 0;
}

/* Strings that differ, NULL being a value of its own. */
static int
differ(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* Keep running's value of *field in next; 1 if next said another. */
static int
keep_string(char **field_next, const char *running)
{
    char *copy;

    if (!differ(*field_next, running))
        return 0;
    copy = running ? strdup(running) : NULL;
    if (running != NULL && copy == NULL)
        return -ENOMEM;
    free(*field_next);
    *field_next = copy;
    return 1;
}

int
config_keep_start_keys(const struct config *running, struct config *next,
                       const char **keys, size_t cap)
{
    size_t n = 0;
    int rc;

    if (cap < 3)
        return -EINVAL;
    if ((rc = keep_string(&next->control, running->control)) < 0)
        return rc;
    if (rc > 0)
        keys[n++] = "control";
    if ((rc = keep_string(&next->metrics, running->metrics)) < 0)
        return rc;
    if (rc > 0)
        keys[n++] = "metrics";
    if (next->probe_lo != running->probe_lo ||
        next->probe_hi != running->probe_hi) {
        next->probe_lo = running->probe_lo;
        next->probe_hi = running->probe_hi;
        keys[n++] = "probe_ports";
    }
    return (int)n;
}

int
config_resolve_user(const char *name, uid_t *uid, gid_t *gid)
{
    struct passwd *pw = getpwnam(name);
    long id;

    if (pw == NULL && parse_int(name, 0, 0x7fffffff, &id, NULL, 0) == 0)
        pw = getpwuid((uid_t)id);
    if (pw == NULL)
        return -1;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int
config_resolve_group(const char *name, gid_t *gid)
{
    struct group *gr = getgrnam(name);
    long id;

    if (gr == NULL && parse_int(name, 0, 0x7fffffff, &id, NULL, 0) == 0)
        gr = getgrgid((gid_t)id);
    if (gr == NULL)
        return -1;
    *gid = gr->gr_gid;
    return 0;
}

const char *
config_listen_owner_error(struct listen_conf *l, char *msg, size_t len)
{
    gid_t primary;

    if (l->owner[0] == '\0' && l->group[0] == '\0')
        return NULL;
    if (addr_family(&l->addr) != AF_UNIX)
        snprintf(msg, len, "[listen %s]: %s: only for unix: addresses",
                 l->name, l->owner[0] ? "owner" : "group");
    else if (l->owner[0] != '\0' &&
             config_resolve_user(l->owner, &l->uid, &primary) < 0)
        snprintf(msg, len, "[listen %s]: owner: no such user \"%s\"", l->name,
                 l->owner);
    else if (l->group[0] != '\0' && config_resolve_group(l->group, &l->gid) < 0)
        snprintf(msg, len, "[listen %s]: group: no such group \"%s\"", l->name,
                 l->group);
    else if (l->uid != (uid_t)-1 && l->uid != geteuid() && geteuid() != 0)
        snprintf(msg, len, "[listen %s]: owner: changing the owner needs root",
                 l->name);
    else
        return NULL;
    return msg;
}
