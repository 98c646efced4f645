/*
 * fuzz_config.c: libFuzzer target for the configuration: the INI reader
 * (handoff's line reader around inih, then every key's parser) and the
 * command-line flags applied over the file.
 *
 * Input: the file's text up to the first NUL byte, then the command line,
 * one argument per NUL-terminated word. Empty text means no file at all.
 *
 * Beyond "no crash": a configuration that loads must print (handoff -t) as
 * a file that loads again and prints the same, since operators keep -t's
 * output as their configuration. The one exception: a word of the command
 * or environment given on the command line may hold a line break, which no
 * line of a file can hold.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Print c into a malloc'ed string; *len gets its length. */
static char *
print(const struct config *c, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    if (f == NULL)
        abort();
    config_print(c, f);
    if (fclose(f) != 0)
        abort();
    return text;
}

/* Does a word hold a line break, which no line of a file can? */
static int
unprintable(char **words)
{
    for (; words != NULL && *words != NULL; words++)
        if (strchr(*words, '\n') != NULL)
            return 1;
    return 0;
}

/* The printed configuration loads again and prints the same text. */
static void
check_round_trip(const struct config *c)
{
    struct config_args none = {0};
    struct config *again;
    char err[CONFIG_ERRLEN];
    size_t len1, len2;
    char *text1 = print(c, &len1), *text2;
    FILE *f = fmemopen(text1, len1, "r");

    if (f == NULL)
        abort();
    if (unprintable(c->argv) || unprintable(c->env)) {
        fclose(f);
        free(text1);
        return;
    }
    if (config_load_stream(f, "printed", &none, &again, err, sizeof(err)) < 0) {
        fprintf(stderr, "printed configuration does not load: %s\n---\n%s",
                err, text1);
        abort();
    }
    fclose(f);
    text2 = print(again, &len2);
    if (len1 != len2 || memcmp(text1, text2, len1) != 0) {
        fprintf(stderr, "printed twice, differs:\n---\n%s---\n%s", text1,
                text2);
        abort();
    }
    config_free(again);
    free(text1);
    free(text2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *argv[MAX_ARGS + 1] = {"handoff"};
    const char *nul;
    size_t textlen;
    int argc = 1;
    struct config_args args;
    struct config *c;
    char err[CONFIG_ERRLEN];
    FILE *f = NULL;

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    nul = memchr(copy, '\0', size);
    textlen = nul ? (size_t)(nul - copy) : size;
    /* The words after the text: each ends at a NUL (the last at copy's). */
    for (char *w = copy + textlen + 1; nul && w < copy + size && argc < MAX_ARGS;
         w += strlen(w) + 1)
        argv[argc++] = w;
    argv[argc] = NULL;
    if (config_args_parse(argc, argv, &args, err, sizeof(err)) < 0)
        goto out;
    if (textlen > 0 && (f = fmemopen(copy, textlen, "r")) == NULL)
        abort();
    if (config_load_stream(f, "fuzz.conf", &args, &c, err, sizeof(err)) == 0) {
        check_round_trip(c);
        config_free(c);
    } else if (err[0] == '\0') {
        fprintf(stderr, "refused without a message\n");
        abort();
    }
    if (f != NULL)
        fclose(f);
    config_args_free(&args);
out:
    free(copy);
    return 0;
}
