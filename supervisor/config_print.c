/* config_print.c: print the effective configuration (handoff -t) as a file handoff reads back. */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "parse.h"

/*
 * Write a word so that command = reads it back: special characters get a
 * backslash rather than quotes, since inih ends the line at " ;" even
 * inside quotes. But a blank at the end of the line, and \t \r \v \f
 * anywhere, go in single quotes: inih trims such characters at the end of
 * a line, backslash and all. A newline cannot be written at all.
 */
static void
print_word(FILE *f, const char *w)
{
    if (*w == '\0') {
        fputs("''", f);
        return;
    }
    for (; *w; w++) {
        if ((*w != '\0' && strchr("\t\r\v\f", *w) != NULL) ||
            (*w == ' ' && w[1] == '\0')) {
            fprintf(f, "'%c'", *w);
            continue;
        }
        if (strchr(" '\"\\;#$`", *w) != NULL)
            fputc('\\', f);
        fputc(*w, f);
    }
}

void
config_print(const struct config *c, FILE *f)
{
    fprintf(f, "[handoff]\n");
    parse_print_duration(f, "stop_timeout", c->stop_timeout);
    parse_print_duration(f, "stop_delay", c->stop_delay);
    fprintf(f, "log_format = %s\n", config_log_format_names[c->log_format]);
    fprintf(f, "log_level = %s\n", config_log_level_names[c->log_level]);
    if (c->control)
        fprintf(f, "control = %s\n", c->control);
    if (c->metrics)
        fprintf(f, "metrics = %s\n", c->metrics);
    fprintf(f, "probe_ports = %u-%u\n", c->probe_lo, c->probe_hi);
    for (size_t i = 0; i < c->nlisten; i++) {
        const struct listen_conf *l = &c->listen[i];
        fprintf(f, "\n[listen %s]\naddress = %s\nbacklog = %ld\n", l->name,
                l->address, l->backlog);
        if (l->mode >= 0)
            fprintf(f, "mode = %04lo\n", (unsigned long)l->mode);
        if (l->owner[0] != '\0')
            fprintf(f, "owner = %s\n", l->owner);
        if (l->group[0] != '\0')
            fprintf(f, "group = %s\n", l->group);
        if (l->nonblocking)
            fprintf(f, "nonblocking = yes\n");
        if (addr_family(&l->addr) != AF_UNIX)
            fprintf(f, "traffic = %s\n", config_traffic_names[l->traffic]);
        if (l->flows != FLOWS_NONE)
            fprintf(f, "flows = %s\n", config_flows_names[l->flows]);
    }
    fprintf(f, "\n[worker]\ncommand =");
    for (char **a = c->argv; a && *a; a++) {
        fputc(' ', f);
        print_word(f, *a);
    }
    fprintf(f, "\nprocesses = %ld\n", c->processes);
    fprintf(f, "pass = %s\n", config_pass_names[c->pass]);
    fprintf(f, "ready = %s\n",
            c->ready_spec && c->ready_set ? c->ready_spec : config_ready_names[c->ready]);
    parse_print_duration(f, "ready_timeout", c->ready_timeout);
    parse_print_duration(f, "ready_interval", c->ready_interval);
    fprintf(f, "drain_signal = %s\n", parse_signal_name(c->drain_signal));
    parse_print_duration(f, "drain_timeout", c->drain_timeout);
    parse_print_duration(f, "drain_delay", c->drain_delay);
    fprintf(f, "restart = %s\n", config_restart_names[c->restart]);
    if (c->directory)
        fprintf(f, "directory = %s\n", c->directory);
    if (c->user)
        fprintf(f, "user = %s\n", c->user);
    if (c->group)
        fprintf(f, "group = %s\n", c->group);
    for (size_t i = 0; i < c->nenv; i++) {
        fprintf(f, "environment = ");
        print_word(f, c->env[i]);
        fputc('\n', f);
    }
    canary_conf_print(&c->canary, f);
    liveness_conf_print(&c->liveness, f);
}
