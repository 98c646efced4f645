/* config.h: the configuration, from an INI file and command-line flags. */
#ifndef HANDOFF_CONFIG_H
#define HANDOFF_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../shim/addr.h"
#include "canary.h"
#include "liveness.h"
#include "log.h"

enum pass_mode { PASS_SHIM, PASS_SYSTEMD, PASS_INHERIT, PASS_PROTOCOL };
enum ready_kind {
    READY_LISTEN,
    READY_NOTIFY,
    READY_TCP,
    READY_HTTP,
    READY_EXEC,
    READY_DELAY,
    READY_DNS
};
enum restart_mode { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };
enum traffic_mode { TRAFFIC_STEERED, TRAFFIC_SHARED };
enum flows_mode { FLOWS_NONE, FLOWS_QUIC };

#define CONFIG_ERRLEN 512
#define CONFIG_NAME_MAX 64

struct listen_conf {
    char name[CONFIG_NAME_MAX];
    char address[ADDR_STRLEN];
    struct addr addr;
    long backlog;
    long mode; /* -1: unset (unix sockets only) */
    char owner[CONFIG_NAME_MAX]; /* "": unchanged (unix sockets only) */
    char group[CONFIG_NAME_MAX];
    uid_t uid; /* owner and group resolved, (uid_t)-1: unchanged */
    gid_t gid;
    int nonblocking; /* O_NONBLOCK on the shared socket, for every holder */
    int traffic;     /* enum traffic_mode; unix listeners are always shared */
    int flows;       /* enum flows_mode: UDP only */
};

struct config {
    /* [handoff] */
    uint64_t stop_timeout;
    uint64_t stop_delay; /* keep serving this long after SIGTERM/SIGINT */
    enum log_format log_format;
    enum log_level log_level;
    char *control; /* the control socket's path, "none", or NULL: default */
    char *metrics; /* the metrics endpoint's address, or NULL: none */
    unsigned probe_lo, probe_hi; /* source ports of steered probes */

    /* [listen NAME] */
    struct listen_conf *listen;
    size_t nlisten;

    /* [worker] */
    char **argv;
    long processes;
    enum pass_mode pass;
    enum ready_kind ready;
    char *ready_spec; /* the whole value, e.g. "tcp:127.0.0.1:9000" */
    const char *ready_arg; /* after "kind:" in ready_spec */
    uint64_t ready_delay;
    uint64_t ready_timeout;
    uint64_t ready_interval;
    int drain_signal;
    uint64_t drain_timeout;
    uint64_t drain_delay; /* steered: accepting on after promotion */
    enum restart_mode restart;
    char *directory;
    char *user;
    char *group;
    uid_t uid;
    gid_t gid;
    char **env; /* KEY=value, NULL-terminated */
    size_t nenv;
    char **user_env;           /* HOME, USER, LOGNAME, SHELL of user, or NULL */
    struct canary_conf canary; /* canary, guards, keep_previous */
    struct liveness_conf liveness; /* liveness, watchdog, max_rss */

    int ready_set; /* ready was given; else it follows pass */
};

/* What the command line said: applied over the file, and again on reload. */
struct config_args {
    const char *file;
    int check, version, help;
    char **argv; /* the command after the options, or NULL */
    size_t nflags;
    struct config_flag {
        const char *flag; /* as typed, for messages */
        const char *section, *key, *value;
    } *flags;
    size_t nlisten;
    const char **listen; /* [NAME=]ADDRESS */
    int parse_only; /* read the file and flags, skip the checks of the whole */
};

/*
 * Parse argv into args. Returns 0, or -EINVAL with a message naming the
 * flag in err. args points into argv; free it with config_args_free.
 */
int config_args_parse(int argc, char **argv, struct config_args *args,
                      char *err, size_t errlen);
void config_args_free(struct config_args *args);

/*
 * Build the configuration: defaults, then the file (if any), then the flags
 * in args, then validation. Returns 0 or a negative errno with
 * "FILE:LINE: key: what is wrong" (or "--flag: ...") in err.
 */
int config_load(const struct config_args *args, struct config **out,
                char *err, size_t errlen);
void config_free(struct config *c);

/* The largest configuration file read (handoff.conf(5)). */
#define CONFIG_FILE_MAX (1024 * 1024)

/*
 * Read the file at path whole into *text (NUL-terminated, free() it):
 * refused with a message in err when it is not a regular file, is larger
 * than CONFIG_FILE_MAX or holds a NUL byte. Never blocks on a FIFO.
 */
int config_file_read(const char *path, char **text, size_t *len, char *err,
                     size_t errlen);

/*
 * config_check.c: each returns NULL, or msg filled with what is wrong.
 * config_line_error: a line of the file inih would read otherwise than
 * meant ("key: value", "key value:x"). The rest: a value against the
 * system (the directory of the control socket, a drain signal no server
 * stops on, variables handoff sets itself).
 */
const char *config_line_error(const char *line, char *msg, size_t len);
const char *config_drain_signal_error(int sig);
const char *config_directory_error(const char *dir, char *msg, size_t len);
const char *config_control_error(const char *path, char *msg, size_t len);
const char *config_metrics_error(const char *v, char *msg, size_t len);
const char *config_env_error(const struct config *c, char *msg, size_t len);
/* flows = quic on a listener that is not a steered UDP one. */
const char *config_flows_error(const struct listen_conf *l, char *msg,
                               size_t len);
/* owner and group of a unix listener, resolved into l->uid and l->gid. */
const char *config_listen_owner_error(struct listen_conf *l, char *msg,
                                      size_t len);

/* A user by name or number: its uid and primary group; a group by name or
 * number. 0, or -1 if there is none. */
int config_resolve_user(const char *name, uid_t *uid, gid_t *gid);
int config_resolve_group(const char *name, gid_t *gid);

/* Is KEY=value one of the variables handoff sets in a worker? */
int config_env_reserved(const char *kv);

/* The command found (through PATH as its exec would) and executable: 0,
 * or -errno with the reason in msg. For handoff -t. */
int config_check_command(const struct config *c, char *msg, size_t len);

/*
 * The keys read at start only (control, metrics, probe_ports) that next,
 * a reload's configuration, changes: their names in keys (cap at least
 * 3), and running's values put back in next, which so says what runs.
 * Returns how many, or -errno.
 */
int config_keep_start_keys(const struct config *running, struct config *next,
                           const char **keys, size_t cap);

/* c->user_env from the passwd entry of c->uid (none without user). */
int config_user_env(struct config *c);

/* Parse INI text from a stream named name (for tests and the loader). */
int config_load_stream(FILE *f, const char *name,
                       const struct config_args *args, struct config **out,
                       char *err, size_t errlen);

/* Print the effective configuration as a file handoff reads back. */
void config_print(const struct config *c, FILE *f);

/* The names of enumerated values, by value, NULL-terminated. */
extern const char *const config_log_format_names[];
extern const char *const config_log_level_names[];
extern const char *const config_pass_names[];
extern const char *const config_restart_names[];
extern const char *const config_traffic_names[];
extern const char *const config_flows_names[];
extern const char *const config_ready_names[];

const char *config_pass_name(enum pass_mode p);
const char *config_ready_name(enum ready_kind r);
void config_usage(FILE *f);

#endif
