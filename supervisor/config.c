/* config.c: load, override, validate and print the configuration. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "dnsq.h"
#include "parse.h"
#include "source.h"
#include "steer.h"

#define DEFAULT_BACKLOG 4096

enum key_type { K_DURATION, K_SIGNAL, K_INT, K_BOOL, K_ENUM, K_STRING, K_SPECIAL };

struct key {
    const char *section; /* "handoff", "listen", "worker" */
    const char *name;
    enum key_type type;
    size_t offset;
    long min, max;            /* K_INT */
    const char *const *names; /* K_ENUM: index is the value */
};

const char *const config_log_format_names[] = {"logfmt", "json", NULL};
const char *const config_log_level_names[] = {"error", "warn", "info",
                                              "debug", NULL};
const char *const config_pass_names[] = {"shim", "systemd", "inherit",
                                         "protocol", NULL};
const char *const config_restart_names[] = {"always", "on-failure", "never",
                                            NULL};
const char *const config_traffic_names[] = {"steered", "shared", NULL};
const char *const config_flows_names[] = {"none", "quic", NULL};
const char *const config_ready_names[] = {"listen", "notify", "tcp", "http",
                                          "exec",   "delay",  "dns", NULL};

#define OFF(f) offsetof(struct config, f)
#define LOFF(f) offsetof(struct listen_conf, f)

static const struct key keys[] = {
    {"handoff", "stop_timeout", K_DURATION, OFF(stop_timeout), 0, 0, NULL},
    {"handoff", "stop_delay", K_DURATION, OFF(stop_delay), 0, 0, NULL},
    {"handoff", "log_format", K_ENUM, OFF(log_format), 0, 0, config_log_format_names},
    {"handoff", "log_level", K_ENUM, OFF(log_level), 0, 0, config_log_level_names},
    {"handoff", "control", K_STRING, OFF(control), 0, 0, NULL},
    {"handoff", "metrics", K_STRING, OFF(metrics), 0, 0, NULL},
    {"handoff", "probe_ports", K_SPECIAL, 0, 0, 0, NULL},
    {"listen", "address", K_SPECIAL, 0, 0, 0, NULL},
    {"listen", "backlog", K_INT, LOFF(backlog), 1, 65535, NULL},
    {"listen", "mode", K_SPECIAL, 0, 0, 0, NULL},
    {"listen", "owner", K_SPECIAL, 0, 0, 0, NULL},
    {"listen", "group", K_SPECIAL, 0, 0, 0, NULL},
    {"listen", "nonblocking", K_BOOL, LOFF(nonblocking), 0, 0, NULL},
    {"listen", "traffic", K_ENUM, LOFF(traffic), 0, 0, config_traffic_names},
    {"listen", "flows", K_ENUM, LOFF(flows), 0, 0, config_flows_names},
    {"worker", "command", K_SPECIAL, 0, 0, 0, NULL},
    {"worker", "processes", K_INT, OFF(processes), 1, 4096, NULL},
    {"worker", "pass", K_ENUM, OFF(pass), 0, 0, config_pass_names},
    {"worker", "ready", K_SPECIAL, 0, 0, 0, NULL},
    {"worker", "ready_timeout", K_DURATION, OFF(ready_timeout), 0, 0, NULL},
    {"worker", "ready_interval", K_DURATION, OFF(ready_interval), 0, 0, NULL},
    {"worker", "drain_signal", K_SIGNAL, OFF(drain_signal), 0, 0, NULL},
    {"worker", "drain_timeout", K_DURATION, OFF(drain_timeout), 0, 0, NULL},
    {"worker", "drain_delay", K_DURATION, OFF(drain_delay), 0, 0, NULL},
    {"worker", "restart", K_ENUM, OFF(restart), 0, 0, config_restart_names},
    {"worker", "directory", K_STRING, OFF(directory), 0, 0, NULL},
    {"worker", "user", K_STRING, OFF(user), 0, 0, NULL},
    {"worker", "group", K_STRING, OFF(group), 0, 0, NULL},
    {"worker", "environment", K_SPECIAL, 0, 0, 0, NULL},
    {"worker", "canary", K_SPECIAL, 0, 0, 0, NULL},
    {"worker", "canary_clients", K_SPECIAL, 0, 0, 0, NULL},
    {"worker", "guard", K_SPECIAL, 0, 0, 0, NULL},
    {"worker", "guard_interval", K_DURATION, OFF(canary.guard_interval), 0, 0, NULL},
    {"worker", "guard_failures", K_INT, OFF(canary.guard_failures), 1, 1000, NULL},
    {"worker", "guard_latency", K_SPECIAL, 0, 0, 0, NULL},
    {"worker", "keep_previous", K_DURATION, OFF(canary.keep_previous), 0, 0, NULL},
    {"worker", "liveness", K_SPECIAL, 0, 0, 0, NULL},
    {"worker", "liveness_interval", K_DURATION, OFF(liveness.interval), 0, 0, NULL},
    {"worker", "liveness_failures", K_INT, OFF(liveness.failures), 1, 1000, NULL},
    {"worker", "liveness_timeout", K_DURATION, OFF(liveness.timeout), 0, 0, NULL},
    {"worker", "watchdog", K_DURATION, OFF(liveness.watchdog), 0, 0, NULL},
    {"worker", "max_rss", K_SPECIAL, 0, 0, 0, NULL},
    {"worker", "liveness_action", K_ENUM, OFF(liveness.action), 0, 0, liveness_action_names},
};

/* The state of one load: the configuration being built and where we are. */
struct loader {
    struct config *c;
    const char *file;
    int line;
    const char *flag; /* set while applying a flag */
    char *err;
    size_t errlen;
    int failed;
    int err_line;     /* the line of the error in err */
    int section_line; /* the line of the current section's header */
    struct origin {   /* where a key was last set, for later checks */
        const char *key;
        int line;
        const char *flag;
    } origin[48];
    size_t norigin;
    char section[CONFIG_NAME_MAX + 16];
    struct listen_conf *cur_listen;
    FILE *stream;
    char *long_value; /* the value of a line longer than inih takes */
    char *linebuf;
    size_t linecap;
};

static int
load_error(struct loader *ld, const char *key, const char *msg)
{
    if (ld->failed)
        return 0;
    ld->failed = 1;
    ld->err_line = ld->line;
    if (ld->flag != NULL)
        snprintf(ld->err, ld->errlen, "%s: %s", ld->flag, msg);
    else if (ld->file != NULL && ld->line > 0)
        snprintf(ld->err, ld->errlen, "%s:%d: %s%s%s", ld->file, ld->line,
                 key ? key : "", key ? ": " : "", msg);
    else if (ld->file != NULL)
        snprintf(ld->err, ld->errlen, "%s: %s%s%s", ld->file,
                 key ? key : "", key ? ": " : "", msg);
    else
        snprintf(ld->err, ld->errlen, "%s%s%s", key ? key : "",
                 key ? ": " : "", msg);
    return 0;
}

/* Remember where key got its value (a line of the file or a flag). */
static void
note_origin(struct loader *ld, const char *key)
{
    size_t i;

    for (i = 0; i < ld->norigin; i++)
        if (strcmp(ld->origin[i].key, key) == 0)
            break;
    if (i == sizeof(ld->origin) / sizeof(ld->origin[0]))
        return;
    if (i == ld->norigin)
        ld->norigin++;
    ld->origin[i] = (struct origin){key, ld->line, ld->flag};
}

/* A check after loading: name the line or flag that set key. */
static int
error_at(struct loader *ld, const char *key, const char *msg)
{
    ld->flag = NULL;
    ld->line = 0;
    for (size_t i = 0; i < ld->norigin; i++)
        if (strcmp(ld->origin[i].key, key) == 0) {
            ld->flag = ld->origin[i].flag;
            ld->line = ld->origin[i].line;
        }
    return load_error(ld, key, msg);
}

const char *
config_pass_name(enum pass_mode p)
{
    return config_pass_names[p];
}

const char *
config_ready_name(enum ready_kind r)
{
    return config_ready_names[r];
}

static struct config *
config_new(void)
{
    struct config *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->stop_timeout = 30000;
    c->log_format = LOG_LOGFMT;
    c->log_level = LOG_INFO;
    c->processes = 1;
    c->pass = PASS_SHIM;
    c->ready = READY_LISTEN;
    c->ready_timeout = 60000;
    c->ready_interval = 1000;
    c->drain_signal = SIGTERM;
    c->drain_timeout = 30000;
    c->drain_delay = 1000;
    /* Below Linux's ephemeral ports (32768-60999) and those of macOS,
     * Windows and FreeBSD (49152-65535); handoff.conf(5) says why. */
    c->probe_lo = 23000;
    c->probe_hi = 23999;
    c->restart = RESTART_ALWAYS;
    c->uid = (uid_t)-1;
    c->gid = (gid_t)-1;
    canary_conf_init(&c->canary);
    liveness_conf_init(&c->liveness);
    c->env = calloc(1, sizeof(char *));
    if (c->env == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void
config_free(struct config *c)
{
    if (c == NULL)
        return;
    free(c->listen);
    free(c->control);
    free(c->metrics);
    parse_words_free(c->argv);
    free(c->ready_spec);
    free(c->directory);
    free(c->user);
    free(c->group);
    parse_words_free(c->env);
    parse_words_free(c->user_env);
    canary_conf_free(&c->canary);
    liveness_conf_free(&c->liveness);
    free(c);
}

/*
 * inih keeps 49 bytes of a section header (INI_MAX_SECTION 50) and drops
 * the rest without a word: "listen " and 42 bytes of the name. A longer
 * name, from -l NAME=ADDRESS, would print (-t) as a header that reads
 * back as another name.
 */
#define LISTEN_NAME_MAX 42

static int
valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > LISTEN_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
            return 0;
    return 1;
}

static struct listen_conf *
listen_add(struct loader *ld, const char *name)
{
    struct config *c = ld->c;
    struct listen_conf *l;
    char auto_name[CONFIG_NAME_MAX];

    if (name == NULL || *name == '\0') {
        snprintf(auto_name, sizeof(auto_name), "listen%zu", c->nlisten);
        name = auto_name;
    } else if (!valid_name(name)) {
        load_error(ld, NULL, "listener name must be letters, digits, "
                             "'_', '.' or '-' (at most 42)");
        return NULL;
    }
    for (size_t i = 0; i < c->nlisten; i++)
        if (strcmp(c->listen[i].name, name) == 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "listener \"%s\" defined twice", name);
            load_error(ld, NULL, msg);
            return NULL;
        }
    l = realloc(c->listen, (c->nlisten + 1) * sizeof(*l));
    if (l == NULL) {
        load_error(ld, NULL, "out of memory");
        return NULL;
    }
    c->listen = l;
    l = &c->listen[c->nlisten++];
    memset(l, 0, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "%s", name);
    l->backlog = DEFAULT_BACKLOG;
    l->mode = -1;
    l->uid = (uid_t)-1;
    l->gid = (gid_t)-1;
    return l;
}

/*
 * Values printed as they are (by config_print, for handoff -t) must be ones
 * a file can hold, or -t would print what handoff does not read back: a
 * flag can carry what no line of a file can. Returns what is wrong or NULL.
 */
static const char *
file_value_error(const char *v)
{
    size_t n = strlen(v);

    if (n > 0 && (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
                  v[n - 1] == '\t'))
        return "begins or ends with a blank";
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)v[i] < ' ' && v[i] != '\t')
            return "holds a control character";
        /* inih reads the value with the blank after '=' before it. */
        if (v[i] == ';' && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t'))
            return "holds \" ;\", which starts a comment";
    }
    return NULL;
}

/* Substitute %p and %g with sample numbers, to validate a ready spec. */
static void
sample_expand(const char *in, char *out, size_t size)
{
    size_t o = 0;

    for (; *in && o + 2 < size; in++) {
        if (in[0] == '%' && (in[1] == 'p' || in[1] == 'g')) {
            out[o++] = '1';
            in++;
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* v in the documented KIND:ARG form. */
static int
set_ready_spec(struct loader *ld, const char *key, const char *v)
{
    struct config *c = ld->c;
    char msg[CONFIG_ERRLEN], sample[512];
    const char *colon = strchr(v, ':');
    size_t kl = colon ? (size_t)(colon - v) : strlen(v);
    int kind = -1;

    for (int i = 0; config_ready_names[i]; i++)
        if (strlen(config_ready_names[i]) == kl && strncmp(v, config_ready_names[i], kl) == 0)
            kind = i;
    if (kind < 0) {
        snprintf(msg, sizeof(msg), "unknown readiness \"%s\" (expected "
                 "listen, notify, tcp:HOST:PORT, http:URL, "
                 "dns:HOST:PORT[/NAME], exec:COMMAND or delay:DURATION)", v);
        return load_error(ld, key, msg);
    }
    if ((kind == READY_LISTEN || kind == READY_NOTIFY) != (colon == NULL)) {
        snprintf(msg, sizeof(msg), "\"%s\": %s %s", v, config_ready_names[kind],
                 colon ? "takes no argument" : "needs an argument after ':'");
        return load_error(ld, key, msg);
    }
    sample_expand(colon ? colon + 1 : "", sample, sizeof(sample));
    if (kind == READY_TCP) {
        struct addr a;
        char aerr[256];
        if (addr_parse(sample, &a, aerr, sizeof(aerr)) < 0 ||
            addr_family(&a) == AF_UNIX || a.dgram || addr_port(&a) == 0) {
            snprintf(msg, sizeof(msg), "\"%s\": expected tcp:HOST:PORT", v);
            return load_error(ld, key, msg);
        }
    } else if (kind == READY_HTTP) {
        if (parse_http_url(sample, msg, sizeof(msg)) < 0)
            return load_error(ld, key, msg);
    } else if (kind == READY_EXEC) {
        char **argv;
        if (parse_words(sample, &argv, msg, sizeof(msg)) < 0)
            return load_error(ld, key, msg);
        parse_words_free(argv);
    } else if (kind == READY_DNS) {
        char name[DNSQ_NAME_MAX + 2], why[200];
        if (dnsq_parse(sample, NULL, name, sizeof(name), why,
                       sizeof(why)) < 0) {
            snprintf(msg, sizeof(msg), "\"%s\": %s", v, why);
            return load_error(ld, key, msg);
        }
    } else if (kind == READY_DELAY) {
        if (parse_duration(colon + 1, &c->ready_delay, msg, sizeof(msg)) < 0)
            return load_error(ld, key, msg);
    }
    free(c->ready_spec);
    c->ready_spec = strdup(v);
    if (c->ready_spec == NULL)
        return load_error(ld, key, "out of memory");
    c->ready_arg = colon ? c->ready_spec + (colon - v) + 1 : NULL;
    c->ready = (enum ready_kind)kind;
    c->ready_set = 1;
    return 1;
}

/* ready as typed: a bare http:// URL is kept (and printed) as http:URL. */
static int
set_ready(struct loader *ld, const char *key, const char *typed)
{
    const char *bad = file_value_error(typed);
    char *v;
    int rc;

    if (bad != NULL)
        return load_error(ld, key, bad);
    if ((v = parse_probe_spec(typed)) == NULL)
        return load_error(ld, key, "out of memory");
    rc = set_ready_spec(ld, key, v);
    free(v);
    return rc;
}

static int
add_env(struct loader *ld, const char *key, const char *words)
{
    struct config *c = ld->c;
    char msg[CONFIG_ERRLEN];
    char **argv, **nv;
    size_t n = 0;

    if (parse_words(words, &argv, msg, sizeof(msg)) < 0)
        return load_error(ld, key, msg);
    for (; argv[n]; n++)
        if (parse_env(argv[n], msg, sizeof(msg)) < 0) {
            parse_words_free(argv);
            return load_error(ld, key, msg);
        }
    nv = realloc(c->env, (c->nenv + n + 1) * sizeof(*nv));
    if (nv == NULL) {
        parse_words_free(argv);
        return load_error(ld, key, "out of memory");
    }
    c->env = nv;
    memcpy(c->env + c->nenv, argv, n * sizeof(*argv));
    c->nenv += n;
    c->env[c->nenv] = NULL;
    free(argv); /* the words themselves now belong to c->env */
    return 1;
}

static int
set_special(struct loader *ld, const char *key, const char *v)
{
    struct config *c = ld->c;
    char msg[CONFIG_ERRLEN];
    const char *bad_value;
    int rc;

    if (strcmp(key, "address") == 0) {
        struct listen_conf *l = ld->cur_listen;
        const char *bad = file_value_error(v);
        if (bad != NULL)
            return load_error(ld, key, bad);
        if (addr_parse(v, &l->addr, msg, sizeof(msg)) < 0)
            return load_error(ld, key, msg);
        snprintf(l->address, sizeof(l->address), "%s", v);
        return 1;
    }
    if (strcmp(key, "mode") == 0) {
        unsigned mode;
        if (parse_mode(v, &mode, msg, sizeof(msg)) < 0)
            return load_error(ld, key, msg);
        ld->cur_listen->mode = (long)mode;
        return 1;
    }
    /* [worker]'s group is a K_STRING: only [listen]'s comes here. */
    if (strcmp(key, "owner") == 0 || strcmp(key, "group") == 0) {
        char *dst = key[0] == 'o' ? ld->cur_listen->owner
                                  : ld->cur_listen->group;
        const char *bad = file_value_error(v);
        if (*v == '\0')
            return load_error(ld, key, "empty value");
        if (bad != NULL)
            return load_error(ld, key, bad);
        if (strlen(v) >= CONFIG_NAME_MAX)
            return load_error(ld, key, "name too long (at most 63 bytes)");
        strcpy(dst, v);
        return 1;
    }
    if (strcmp(key, "command") == 0) {
        char **argv;
        if (parse_words(v, &argv, msg, sizeof(msg)) < 0)
            return load_error(ld, key, msg);
        parse_words_free(c->argv);
        c->argv = argv;
        return 1;
    }
    if (strcmp(key, "ready") == 0)
        return set_ready(ld, key, v);
    if (strcmp(key, "probe_ports") == 0)
        return parse_port_range(v, 64, &c->probe_lo, &c->probe_hi, msg,
                                sizeof(msg)) < 0 ? load_error(ld, key, msg) : 1;
    if (strcmp(key, "environment") == 0)
        return add_env(ld, key, v);
    if ((bad_value = file_value_error(v)) != NULL)
        return load_error(ld, key, bad_value);
    rc = canary_conf_set(&c->canary, key, v, msg, sizeof(msg));
    if (rc == 0)
        rc = liveness_conf_set(&c->liveness, key, v, msg, sizeof(msg));
    if (rc == -ENOMEM)
        return load_error(ld, key, "out of memory");
    return rc > 0 ? 1 : load_error(ld, key, rc < 0 ? msg : "unknown key");
}

static int
set_key(struct loader *ld, const struct key *k, void *base, const char *v)
{
    char msg[CONFIG_ERRLEN];
    char *field = (char *)base + k->offset;

    switch (k->type) {
    case K_DURATION:
        if (parse_duration(v, (uint64_t *)field, msg, sizeof(msg)) < 0)
            return load_error(ld, k->name, msg);
        return 1;
    case K_SIGNAL:
        if (parse_signal(v, (int *)field, msg, sizeof(msg)) < 0)
            return load_error(ld, k->name, msg);
        return 1;
    case K_INT:
        if (parse_int(v, k->min, k->max, (long *)field, msg, sizeof(msg)) < 0)
            return load_error(ld, k->name, msg);
        return 1;
    case K_BOOL:
        if (parse_bool(v, (int *)field, msg, sizeof(msg)) < 0)
            return load_error(ld, k->name, msg);
        return 1;
    case K_ENUM: {
        size_t o = 0;
        for (int i = 0; k->names[i]; i++)
            if (strcmp(v, k->names[i]) == 0) {
                *(int *)field = i;
                return 1;
            }
        o = (size_t)snprintf(msg, sizeof(msg), "\"%s\": expected", v);
        for (int i = 0; k->names[i] && o < sizeof(msg); i++)
            o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s %s",
                                  i ? (k->names[i + 1] ? "," : " or") : "",
                                  k->names[i]);
        return load_error(ld, k->name, msg);
    }
    case K_STRING: {
        char **s = (char **)field;
        const char *bad = file_value_error(v);
        if (*v == '\0')
            return load_error(ld, k->name, "empty value");
        if (bad != NULL)
            return load_error(ld, k->name, bad);
        free(*s);
        *s = strdup(v);
        return *s ? 1 : load_error(ld, k->name, "out of memory");
    }
    case K_SPECIAL:
        return set_special(ld, k->name, v);
    }
    return 0;
}

/* Apply section/key/value, from the file or a flag. */
static int
apply(struct loader *ld, const char *section, const char *key, const char *v)
{
    const char *kind = section;
    void *base = ld->c;

    if (strncmp(section, "listen", 6) == 0 &&
        (section[6] == '\0' || section[6] == ' ')) {
        kind = "listen";
        if (ld->cur_listen == NULL) /* a flag names no section */
            return load_error(ld, key, "no listener to apply it to");
        base = ld->cur_listen;
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].section, kind) == 0 &&
            strcmp(keys[i].name, key) == 0) {
            int ok = set_key(ld, &keys[i], base, v);
            if (ok && base == ld->c)
                note_origin(ld, keys[i].name);
            return ok;
        }
    {
        char msg[128];
        snprintf(msg, sizeof(msg), "unknown key in [%s]", kind);
        return load_error(ld, key, msg);
    }
}

static int
load_handler(void *user, const char *section, const char *name,
            const char *value)
{
    struct loader *ld = user;

    if (ld->failed)
        return 1;
    if (strcmp(section, ld->section) != 0) {
        /* First key of a new section: sections are checked here because
         * inih only reports keys; errors name the header's line. */
        int key_line = ld->line;

        ld->line = ld->section_line ? ld->section_line : ld->line;
        snprintf(ld->section, sizeof(ld->section), "%s", section);
        ld->cur_listen = NULL;
        if (strncmp(section, "listen", 6) == 0 &&
            (section[6] == '\0' || section[6] == ' ')) {
            const char *n = section + 6;
            while (*n == ' ')
                n++;
            ld->cur_listen = listen_add(ld, n);
            if (ld->cur_listen == NULL)
                return 1;
            ld->line = key_line;
        } else if (strcmp(section, "handoff") != 0 &&
                   strcmp(section, "worker") != 0) {
            char msg[CONFIG_NAME_MAX + 96];
            snprintf(msg, sizeof(msg), "unknown section [%.*s] (expected "
                     "[handoff], [listen NAME] or [worker])",
                     CONFIG_NAME_MAX, section);
            load_error(ld, NULL, msg);
            return 1;
        }
        ld->line = key_line;
    }
    if (section[0] == '\0') {
        load_error(ld, name, "key outside a section");
        return 1;
    }
    if (value[0] == '\x01' && value[1] == '\0' && ld->long_value != NULL)
        value = ld->long_value;
    apply(ld, section, name, value);
    return 1;
}

/*
 * The line reader for inih: counts lines (Debian's inih does not pass line
 * numbers to the handler) and hands over lines longer than inih's buffer by
 * putting their value aside and giving inih a marker in its place.
 */
static char *
load_reader(char *str, int num, void *stream)
{
    struct loader *ld = stream;
    ssize_t n = getline(&ld->linebuf, &ld->linecap, ld->stream);
    char *line = ld->linebuf, *eq, *v, *end, why[CONFIG_ERRLEN];

    if (n < 0)
        return NULL;
    ld->line++;
    free(ld->long_value);
    ld->long_value = NULL;
    /* A section header: the next key starts a new section even if the name
     * repeats, so that a listener defined twice is caught. */
    line += strspn(line, " \t");
    if (config_line_error(line, why, sizeof(why)) != NULL)
        load_error(ld, NULL, why);
    if (*line == '[') {
        size_t hl = strcspn(line + 1, "]\n");
        strcpy(ld->section, "\x01");
        ld->section_line = ld->line;
        if (hl > 7 + LISTEN_NAME_MAX && strncmp(line + 1, "listen ", 7) == 0)
            load_error(ld, NULL, "listener name must be letters, digits, "
                                 "'_', '.' or '-' (at most 42)");
        /* Checked here too: a section with no keys never reaches the
         * handler, and a misspelt one must not pass unnoticed. */
        if (line[1 + hl] == ']' &&
            !(hl == 7 && strncmp(line + 1, "handoff", 7) == 0) &&
            !(hl == 6 && strncmp(line + 1, "worker", 6) == 0) &&
            !(hl >= 6 && strncmp(line + 1, "listen", 6) == 0 &&
              (hl == 6 || line[7] == ' '))) {
            char msg[CONFIG_NAME_MAX + 96];
            snprintf(msg, sizeof(msg), "unknown section [%.*s] (expected "
                     "[handoff], [listen NAME] or [worker])",
                     (int)(hl < CONFIG_NAME_MAX ? hl : CONFIG_NAME_MAX), line + 1);
            load_error(ld, NULL, msg);
        }
    }
    line = ld->linebuf;
    if (n + 1 < num) {
        memcpy(str, line, (size_t)n + 1);
        return str;
    }
    while (*line == ' ' || *line == '\t')
        line++;
    eq = strchr(line, '=');
    if (*line == ';' || *line == '#' || *line == '\n') {
        snprintf(str, (size_t)num, ";\n");
        return str;
    }
    if (eq == NULL || (size_t)(eq - line) + 5 > (size_t)num) {
        load_error(ld, NULL, "line too long");
        snprintf(str, (size_t)num, ";\n");
        return str;
    }
    /* The value: trimmed, without an inline "; comment", as inih does. */
    v = eq + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    for (end = v; *end && *end != '\n'; end++)
        if (*end == ';' && end > v && (end[-1] == ' ' || end[-1] == '\t'))
            break;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    ld->long_value = strndup(v, (size_t)(end - v));
    snprintf(str, (size_t)num, "%.*s=\x01\n", (int)(eq - line), line);
    return str;
}

static int
apply_args(struct loader *ld, const struct config_args *args)
{
    struct config *c = ld->c;

    ld->flag = NULL;
    if (args->nlisten > 0)
        c->nlisten = 0; /* -l replaces the file's listeners */
    for (size_t i = 0; i < args->nlisten; i++) {
        const char *s = args->listen[i], *eq = strchr(s, '=');
        char name[CONFIG_NAME_MAX] = "";

        ld->flag = "-l";
        if (eq != NULL && (size_t)(eq - s) < sizeof(name) &&
            strcspn(s, ":[/") > (size_t)(eq - s)) {
            memcpy(name, s, (size_t)(eq - s));
            name[eq - s] = '\0';
            s = eq + 1;
        }
        ld->cur_listen = listen_add(ld, name);
        if (ld->cur_listen == NULL)
            return 0;
        apply(ld, "listen", "address", s);
    }
    ld->cur_listen = NULL;
    /* Every flag wins over the file; --backlog, --nonblocking and
     * --traffic for every listener, --flows for every UDP one. */
    for (size_t i = 0; i < args->nflags && !ld->failed; i++) {
        int listen = strcmp(args->flags[i].section, "listen") == 0;
        int udp_only = listen && strcmp(args->flags[i].key, "flows") == 0;
        ld->flag = args->flags[i].flag;
        for (size_t j = 0; j < (listen ? c->nlisten : 1) && !ld->failed; j++) {
            if (udp_only && !c->listen[j].addr.dgram)
                continue;
            ld->cur_listen = listen ? &c->listen[j] : NULL;
            apply(ld, args->flags[i].section, args->flags[i].key,
                  args->flags[i].value);
        }
    }
    ld->cur_listen = NULL;
    if (args->argv != NULL && !ld->failed) {
        size_t n = 0;
        char **argv;

        while (args->argv[n])
            n++;
        argv = calloc(n + 1, sizeof(*argv));
        if (argv == NULL)
            return load_error(ld, NULL, "out of memory");
        for (size_t i = 0; i < n; i++)
            if ((argv[i] = strdup(args->argv[i])) == NULL) {
                parse_words_free(argv);
                return load_error(ld, NULL, "out of memory");
            }
        parse_words_free(c->argv);
        c->argv = argv;
    }
    ld->flag = NULL;
    return !ld->failed;
}

static int
validate_user(struct loader *ld)
{
    struct config *c = ld->c;
    char msg[CONFIG_ERRLEN];

    if (c->user != NULL && config_resolve_user(c->user, &c->uid, &c->gid) < 0) {
        snprintf(msg, sizeof(msg), "no such user \"%s\"", c->user);
        return error_at(ld, "user", msg);
    }
    if (c->group != NULL && config_resolve_group(c->group, &c->gid) < 0) {
        snprintf(msg, sizeof(msg), "no such group \"%s\"", c->group);
        return error_at(ld, "group", msg);
    }
    if ((c->user != NULL && c->uid != geteuid()) ||
        (c->group != NULL && c->gid != getegid())) {
        if (geteuid() != 0)
            return error_at(ld, c->user ? "user" : "group",
                            "changing user or group needs root");
    }
    if (config_user_env(c) < 0)
        return error_at(ld, "user", "out of memory");
    return 1;
}

static int
validate(struct loader *ld)
{
    struct config *c = ld->c;
    char msg[CONFIG_ERRLEN];
    const char *bad;
    struct sockaddr_un sun;

    /* Checks of the whole: they name no line, or the one that set a key. */
    ld->line = 0;
    ld->flag = NULL;
    if (c->nlisten == 0)
        return load_error(ld, NULL, "no listener: give -l ADDRESS or a "
                                    "[listen NAME] section with address =");
    for (size_t i = 0; i < c->nlisten; i++) {
        struct listen_conf *l = &c->listen[i];
        ld->flag = ld->file ? NULL : "-l";
        if (l->address[0] == '\0') {
            snprintf(msg, sizeof(msg), "[listen %s]: address: missing", l->name);
            return load_error(ld, NULL, msg);
        }
        if (l->mode >= 0 && addr_family(&l->addr) != AF_UNIX) {
            snprintf(msg, sizeof(msg), "[listen %s]: mode: only for unix: "
                     "addresses", l->name);
            return load_error(ld, NULL, msg);
        }
        if (config_flows_error(l, msg, sizeof(msg)) != NULL)
            return load_error(ld, NULL, msg);
        /* owner and group name no line, as mode does. */
        if (config_listen_owner_error(l, msg, sizeof(msg)) != NULL)
            return load_error(ld, NULL, msg);
        for (size_t j = 0; j < i; j++)
            if (c->listen[j].addr.dgram == l->addr.dgram &&
                addr_equal(&c->listen[j].addr, (struct sockaddr *)&l->addr.ss,
                           l->addr.len) &&
                addr_port(&l->addr) != 0) {
                snprintf(msg, sizeof(msg), "[listen %s]: address %s is also "
                         "[listen %s]", l->name, l->address, c->listen[j].name);
                return load_error(ld, NULL, msg);
            }
    }
    ld->flag = NULL;
    if (c->argv == NULL)
        return load_error(ld, NULL, "no command: give it after the options "
                                    "or as command = in [worker]");
    if (!c->ready_set)
        c->ready = (c->pass == PASS_SHIM || c->pass == PASS_PROTOCOL)
                       ? READY_LISTEN
                       : READY_NOTIFY;
    if (c->ready == READY_LISTEN && c->pass != PASS_SHIM &&
        c->pass != PASS_PROTOCOL) {
        snprintf(msg, sizeof(msg), "ready = listen needs pass = shim or "
                 "protocol (pass is %s): use notify, tcp:, http:, dns:, exec: "
                 "or delay:", config_pass_names[c->pass]);
        return error_at(ld, c->ready_set ? "ready" : "pass", msg);
    }
    if (c->ready_interval < 10)
        return error_at(ld, "ready_interval", "must be at least 10ms");
    if (c->ready_timeout == 0)
        return error_at(ld, "ready_timeout", "must be more than 0");
    if ((bad = config_drain_signal_error(c->drain_signal)) != NULL)
        return error_at(ld, "drain_signal", bad);
    if (c->directory != NULL &&
        config_directory_error(c->directory, msg, sizeof(msg)) != NULL)
        return error_at(ld, "directory", msg);
    if (c->control != NULL && strlen(c->control) >= sizeof(sun.sun_path))
        return error_at(ld, "control", "path too long for a unix socket "
                                       "(at most 107 bytes)");
    if (c->control != NULL &&
        config_control_error(c->control, msg, sizeof(msg)) != NULL)
        return error_at(ld, "control", msg);
    if (c->metrics != NULL && strcmp(c->metrics, "none") != 0 &&
        config_metrics_error(c->metrics, msg, sizeof(msg)) != NULL)
        return error_at(ld, "metrics", msg);
    if (config_env_error(c, msg, sizeof(msg)) != NULL)
        return error_at(ld, "environment", msg);
    {
        int shared = 0, steered = 0;
        const char *key;
        for (size_t i = 0; i < c->nlisten; i++)
            if (addr_family(&c->listen[i].addr) != AF_UNIX)
                c->listen[i].traffic == TRAFFIC_SHARED ? shared++ : steered++;
        if ((key = canary_conf_check(&c->canary, shared, steered, msg,
                                     sizeof(msg))) != NULL ||
            (key = liveness_conf_check(&c->liveness,
                                       c->restart == RESTART_NEVER, msg,
                                       sizeof(msg))) != NULL)
            return error_at(ld, key, msg);
        if (steered && steer_probe_ports_check(c->probe_lo, c->probe_hi, NULL,
                                               msg, sizeof(msg)) < 0)
            return error_at(ld, "probe_ports", msg);
    }
    return validate_user(ld);
}

int
config_load_stream(FILE *f, const char *name, const struct config_args *args,
                   struct config **out, char *err, size_t errlen)
{
    struct loader ld = {.file = name, .err = err, .errlen = errlen};
    char msg[CONFIG_ERRLEN];
    int rc;

    err[0] = '\0';
    ld.c = config_new();
    if (ld.c == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (f != NULL) {
        ld.stream = f;
        rc = ini_parse_stream(load_reader, &ld, load_handler, &ld);
        if (rc > 0 && (!ld.failed || rc <= ld.err_line)) {
            /* inih reads on after a syntax error: the first error wins. */
            ld.failed = 0;
            ld.flag = NULL;
            ld.line = rc;
            load_error(&ld, NULL, "syntax error (expected [section] or "
                                  "key = value)");
        } else if (rc < 0 && !ld.failed) {
            snprintf(err, errlen, "%s: cannot read", name);
            ld.failed = 1;
        }
        free(ld.long_value);
        free(ld.linebuf);
        ld.long_value = NULL;
    }
    if (!ld.failed)
        apply_args(&ld, args);
    if (!ld.failed && !args->parse_only) {
        const char *file = ld.file;
        if (f == NULL)
            ld.file = NULL;
        if (validate(&ld) && args->check &&
            config_check_command(ld.c, msg, sizeof(msg)) < 0)
            error_at(&ld, "command", msg);
        ld.file = file;
    }
    if (ld.failed) {
        config_free(ld.c);
        return -EINVAL;
    }
    *out = ld.c;
    return 0;
}

int
config_load(const struct config_args *args, struct config **out, char *err,
            size_t errlen)
{
    char *text;
    size_t len;
    int rc = source_load(args, out, &text, &len, err, errlen);

    free(text);
    return rc;
}

/* Command-line flags: each is a key of the file, applied after it. */
static const struct {
    const char *flag;
    int shortopt;
    const char *section, *key;
} flag_keys[] = {
    {"processes", 'n', "worker", "processes"},
    {"pass", 0, "worker", "pass"},
    {"ready", 'r', "worker", "ready"},
    {"ready-timeout", 0, "worker", "ready_timeout"},
    {"ready-interval", 0, "worker", "ready_interval"},
    {"drain-signal", 0, "worker", "drain_signal"},
    {"drain-timeout", 0, "worker", "drain_timeout"},
    {"restart", 0, "worker", "restart"},
    {"directory", 'C', "worker", "directory"},
    {"user", 'u', "worker", "user"},
    {"group", 'g', "worker", "group"},
    {"env", 'e', "worker", "environment"},
    {"stop-timeout", 0, "handoff", "stop_timeout"},
    {"stop-delay", 0, "handoff", "stop_delay"},
    {"log-format", 0, "handoff", "log_format"},
    {"log-level", 0, "handoff", "log_level"},
    {"control", 0, "handoff", "control"},
    {"metrics", 0, "handoff", "metrics"},
    {"backlog", 0, "listen", "backlog"},
    {"nonblocking", 0, "listen", "nonblocking"},
    {"traffic", 0, "listen", "traffic"},
    {"flows", 0, "listen", "flows"},
    {"probe-ports", 0, "handoff", "probe_ports"},
    {"drain-delay", 0, "worker", "drain_delay"},
    {"canary", 0, "worker", "canary"},
    {"canary-clients", 0, "worker", "canary_clients"},
    {"guard", 0, "worker", "guard"},
    {"guard-interval", 0, "worker", "guard_interval"},
    {"guard-failures", 0, "worker", "guard_failures"},
    {"guard-latency", 0, "worker", "guard_latency"},
    {"keep-previous", 0, "worker", "keep_previous"},
    {"liveness", 0, "worker", "liveness"},
    {"liveness-interval", 0, "worker", "liveness_interval"},
    {"liveness-failures", 0, "worker", "liveness_failures"},
    {"liveness-timeout", 0, "worker", "liveness_timeout"},
    {"watchdog", 0, "worker", "watchdog"},
    {"max-rss", 0, "worker", "max_rss"},
    {"liveness-action", 0, "worker", "liveness_action"},
};
#define NFLAGS (sizeof(flag_keys) / sizeof(flag_keys[0]))

void
config_usage(FILE *f)
{
    fputs(
        "usage: handoff [-c FILE] [-l [NAME=]ADDRESS]... [-n|--processes N] [--pass MODE]\n"
        "               [-r|--ready SPEC] [--ready-timeout D] [--ready-interval D]\n"
        "               [--drain-signal SIG] [--drain-timeout D] [--stop-timeout D]\n"
        "               [--stop-delay D] [--restart POLICY] [--backlog N]\n"
        "               [--nonblocking yes|no] [--traffic steered|shared] [--flows none|quic]\n"
        "               [--drain-delay D] [--probe-ports LO-HI] [--canary W%/D...]\n"
        "               [--canary-clients CIDR...]\n"
        "               [--guard SPEC] [--guard-interval D] [--guard-failures N]\n"
        "               [--guard-latency R] [--keep-previous D]\n"
        "               [--liveness SPEC] [--liveness-interval D] [--liveness-failures N]\n"
        "               [--liveness-timeout D] [--watchdog D] [--max-rss SIZE]\n"
        "               [--liveness-action roll|restart]\n"
        "               [-C|--directory DIR] [-u|--user USER] [-g|--group GROUP]\n"
        "               [-e|--env KEY=VALUE]... [--log-format F] [--log-level L]\n"
        "               [--control PATH] [--metrics ADDRESS] [-t|--check] [-V|--version] [-h|--help]\n"
        "               [--] COMMAND [ARG]...\n"
        "       handoff status [--json] [--watch [--interval D]] [--control PATH | -c FILE] [--timeout D]\n"
        "       handoff roll [--canary W%/D...] [--control PATH | -c FILE] [--timeout D]\n"
        "       handoff promote | rollback | stop | metrics [--control PATH | -c FILE] [--timeout D]\n"
        "Runs COMMAND as workers that share the listening sockets; SIGUSR2 rolls\n"
        "to a new generation without losing a connection, SIGHUP reads FILE again\n"
        "and rolls. The second form asks a running handoff. See handoff(8).\n",
        f);
}

void
config_args_free(struct config_args *args)
{
    free(args->flags);
    free(args->listen);
    memset(args, 0, sizeof(*args));
}

int
config_args_parse(int argc, char **argv, struct config_args *args, char *err,
                  size_t errlen)
{
    struct option opts[NFLAGS + 8];
    char shortopts[64] = "+c:l:thV";
    size_t no = 0, so = strlen(shortopts);
    int c, idx;

    memset(args, 0, sizeof(*args));
    args->flags = calloc((size_t)argc + 1, sizeof(*args->flags));
    args->listen = calloc((size_t)argc + 1, sizeof(*args->listen));
    if (args->flags == NULL || args->listen == NULL) {
        snprintf(err, errlen, "out of memory");
        config_args_free(args);
        return -ENOMEM;
    }
    for (size_t i = 0; i < NFLAGS; i++) {
        opts[no++] = (struct option){flag_keys[i].flag, required_argument,
                                     NULL, 256 + (int)i};
        if (flag_keys[i].shortopt) {
            shortopts[so++] = (char)flag_keys[i].shortopt;
            shortopts[so++] = ':';
        }
    }
    shortopts[so] = '\0';
    opts[no++] = (struct option){"config", required_argument, NULL, 'c'};
    opts[no++] = (struct option){"listen", required_argument, NULL, 'l'};
    opts[no++] = (struct option){"check", no_argument, NULL, 't'};
    opts[no++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[no++] = (struct option){"version", no_argument, NULL, 'V'};
    opts[no++] = (struct option){NULL, 0, NULL, 0};

    /* 0, not 1: glibc then forgets where the last parse stopped, which may
     * be inside a cluster of flags ("-tZq") of an argv that is gone. */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, opts, &idx)) != -1) {
        size_t k = NFLAGS;

        switch (c) {
        case 'c':
            args->file = optarg;
            continue;
        case 'l':
            args->listen[args->nlisten++] = optarg;
            continue;
        case 't':
            args->check = 1;
            continue;
        case 'h':
            args->help = 1;
            continue;
        case 'V':
            args->version = 1;
            continue;
        case '?':
        case ':':
            if (optopt >= 256 && optopt < 256 + (int)NFLAGS)
                /* A long flag without its value: getopt gives its val. */
                snprintf(err, errlen, "--%s: needs a value",
                         flag_keys[optopt - 256].flag);
            else if (optopt != 0 && optind > 1 &&
                     strncmp(argv[optind - 1], "--", 2) == 0)
                snprintf(err, errlen, "%s: needs a value", argv[optind - 1]);
            else if (optopt != 0)
                snprintf(err, errlen, "-%c: %s", optopt,
                         strchr(shortopts, optopt) ? "needs a value"
                                                   : "unknown flag");
            else
                snprintf(err, errlen, "%s: unknown flag or missing value",
                         argv[optind - 1]);
            config_args_free(args);
            return -EINVAL;
        }
        if (c >= 256)
            k = (size_t)(c - 256);
        else
            for (k = 0; k < NFLAGS; k++)
                if (flag_keys[k].shortopt == c)
                    break;
        if (k >= NFLAGS)
            continue;
        args->flags[args->nflags++] = (struct config_flag){
            c >= 256 ? argv[optind - 1] : NULL, flag_keys[k].section,
            flag_keys[k].key, optarg};
        {
            /* Name the flag as the user wrote it in messages. */
            struct config_flag *f = &args->flags[args->nflags - 1];
            static char names[NFLAGS][2][32];
            if (c >= 256)
                snprintf(names[k][0], 32, "--%s", flag_keys[k].flag);
            else
                snprintf(names[k][1], 32, "-%c", c);
            f->flag = names[k][c >= 256 ? 0 : 1];
        }
    }
    if (optind < argc)
        args->argv = argv + optind;
    return 0;
}
