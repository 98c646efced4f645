/* main.c: handoff's entry point: read the configuration, run the master. */
#include <errno.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "fdlimit.h"
#include "log.h"
#include "master.h"
#include "source.h"
#include "upgrade.h"
#include "version.h"

#define EXIT_USAGE 2

int
main(int argc, char **argv)
{
    struct config_args args;
    struct config *cfg = NULL;
    char err[CONFIG_ERRLEN], *source = NULL;
    size_t len = 0;
    json_t *resume;
    int code;

    /* Nothing the master inherited may reach a worker by accident. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

    /* An upgrade's check of the state it would hand over (upgrade.h). */
    if (argc == 2 && strcmp(argv[1], UPGRADE_CHECK_FLAG) == 0)
        return upgrade_check(stdin, stdout, stderr);
    /* handoff status|roll|stop: a client of the control socket. A server
     * command of that name runs as handoff -- status. */
    if (argc > 1 && control_is_command(argv[1]))
        return control_client(argc - 1, argv + 1);
    /* Nothing said: what to say, rather than the first thing missing. */
    if (argc < 2) {
        config_usage(stderr);
        return EXIT_USAGE;
    }

    if (config_args_parse(argc, argv, &args, err, sizeof(err)) < 0) {
        fprintf(stderr, "handoff: %s\n", err);
        config_usage(stderr);
        return EXIT_USAGE;
    }
    if (args.help) {
        config_usage(stdout);
        config_args_free(&args);
        return 0;
    }
    if (args.version) {
        printf("handoff %s\n", handoff_version);
        config_args_free(&args);
        return 0;
    }
    /* Started by an upgrade: the state it handed over, not the file. */
    resume = upgrade_take(err, sizeof(err));
    if (resume == NULL && err[0] != '\0') {
        fprintf(stderr, "handoff: %s\n", err);
        config_args_free(&args);
        return 1;
    }
    if (resume != NULL) {
        log_setup(LOG_INFO, LOG_LOGFMT);
        (void)log_open();
        code = master_run(&args, argv, NULL, NULL, 0, resume);
        config_args_free(&args);
        return code;
    }
    if (source_load(&args, &cfg, &source, &len, err, sizeof(err)) < 0) {
        fprintf(stderr, "handoff: %s\n", err);
        config_args_free(&args);
        return EXIT_USAGE;
    }
    if (args.check) {
        printf("; handoff %s: configuration OK%s%s\n", handoff_version,
               args.file ? " in " : "", args.file ? args.file : "");
        config_print(cfg, stdout);
        config_free(cfg);
        free(source);
        config_args_free(&args);
        return 0;
    }
    log_setup(cfg->log_level, cfg->log_format);
    if ((code = log_open()) < 0)
        log_event(LOG_WARN, "log_blocking", "error=%s",
                  log_q(strerror(-code)));
    /* Before any listener opens; workers get the soft limit back. */
    if ((code = fdlimit_raise_nofile()) < 0)
        log_event(LOG_WARN, "nofile_limit", "error=%s", log_q(strerror(-code)));
    code = master_run(&args, argv, cfg, source, len, NULL);
    config_args_free(&args);
    return code;
}
