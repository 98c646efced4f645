/* test_source.c: the configuration file's bytes kept as loaded, and the same
 * configuration built from them after the file changed on disk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Not "config.h": the build directory's autoconf header has that name. */
#include "../../supervisor/config.h"
#include "../../supervisor/source.h"

#define MAXARGS 16

struct fixture {
    char dir[64];
    char path[96];
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_source.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof(fx->path), "%s/handoff.conf", fx->dir);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void
write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* args from a NULL-terminated list of flags (argv[0] added). */
static void
parse_args(struct config_args *a, const char *const *flags)
{
    char *argv[MAXARGS] = {"handoff"};
    char err[CONFIG_ERRLEN];
    int argc = 1;

    for (; flags[argc - 1] != NULL; argc++) {
        assert_true(argc < MAXARGS - 1);
        argv[argc] = (char *)flags[argc - 1];
    }
    argv[argc] = NULL;
    if (config_args_parse(argc, argv, a, err, sizeof(err)) < 0)
        fail_msg("flags refused: %s", err);
}

/* What handoff -t prints for c: every key, to compare two configurations
 * whole. */
static char *
printed(const struct config *c)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);

    assert_non_null(f);
    config_print(c, f);
    assert_int_equal(fclose(f), 0);
    return s;
}

static const char first[] = "; as started\n"
                            "[listen web]\n"
                            "address = 127.0.0.1:8001\n"
                            "[worker]\n"
                            "command = /bin/sleep 100\n"
                            "processes = 3\n"
                            "drain_timeout = 7s\n";

static const char edited[] = "[listen web]\n"
                             "address = 127.0.0.1:8002\n"
                             "[worker]\n"
                             "command = /bin/echo edited\n"
                             "processes = 5\n"
                             "drain_timeout = 9s\n";

/*
 * The requirement: the file edited on disk and no SIGHUP yet, a new image
 * must run what was loaded, not what the file now says.
 */
static void
rebuild_after_edit_gives_what_was_loaded(void **state)
{
    struct fixture *fx = *state;
    struct config_args a;
    struct config *loaded, *again, *now;
    char err[CONFIG_ERRLEN], *text, *p1, *p2;
    size_t len;

    write_file(fx->path, first, strlen(first));
    parse_args(&a, (const char *[]){"-c", fx->path, NULL});
    assert_int_equal(source_load(&a, &loaded, &text, &len, err, sizeof(err)),
                     0);
    assert_int_equal(len, strlen(first));
    assert_memory_equal(text, first, len);

    write_file(fx->path, edited, strlen(edited));
    /* A SIGHUP would read the edited file: it did change. */
    assert_int_equal(config_load(&a, &now, err, sizeof(err)), 0);
    assert_int_equal(now->processes, 5);

    if (source_rebuild(&a, text, len, &again, err, sizeof(err)) < 0)
        fail_msg("rebuild refused: %s", err);
    assert_int_equal(again->processes, 3);
    assert_int_equal(again->nlisten, 1);
    assert_string_equal(again->listen[0].name, "web");
    assert_string_equal(again->listen[0].address, "127.0.0.1:8001");
    assert_int_equal(again->drain_timeout, 7000);
    assert_string_equal(again->argv[0], "/bin/sleep");
    assert_string_equal(again->argv[1], "100");
    assert_null(again->argv[2]);
    /* and every other key as loaded */
    p1 = printed(loaded);
    p2 = printed(again);
    assert_string_equal(p2, p1);
    free(p1);
    free(p2);
    config_free(now);
    config_free(again);
    config_free(loaded);
    free(text);
    config_args_free(&a);
}

/* The flags go over the kept bytes as they went over the file. */
static void
rebuild_applies_the_flags_again(void **state)
{
    struct fixture *fx = *state;
    struct config_args a;
    struct config *loaded, *again;
    char err[CONFIG_ERRLEN], *text;
    size_t len;

    write_file(fx->path, first, strlen(first));
    parse_args(&a, (const char *[]){"-c", fx->path, "-n", "4",
                                    "--drain-timeout", "2s", NULL});
    assert_int_equal(source_load(&a, &loaded, &text, &len, err, sizeof(err)),
                     0);
    unlink(fx->path); /* gone from disk altogether */
    assert_int_equal(source_rebuild(&a, text, len, &again, err, sizeof(err)),
                     0);
    assert_int_equal(loaded->processes, 4);
    assert_int_equal(again->processes, 4);
    assert_int_equal(again->drain_timeout, 2000);
    assert_string_equal(again->listen[0].address, "127.0.0.1:8001");
    config_free(again);
    config_free(loaded);
    free(text);
    config_args_free(&a);
}

/* No file: nothing kept, the flags alone build it again. */
static void
no_file_keeps_nothing(void **state)
{
    struct config_args a;
    struct config *loaded, *again;
    char err[CONFIG_ERRLEN], *text = (char *)"x", *p1, *p2;
    size_t len = 99;

    (void)state;
    parse_args(&a, (const char *[]){"-l", "127.0.0.1:8003", "-n", "2",
                                    "/bin/sleep", "5", NULL});
    assert_int_equal(source_load(&a, &loaded, &text, &len, err, sizeof(err)),
                     0);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_int_equal(source_rebuild(&a, NULL, 0, &again, err, sizeof(err)), 0);
    assert_int_equal(again->processes, 2);
    p1 = printed(loaded);
    p2 = printed(again);
    assert_string_equal(p2, p1);
    free(p1);
    free(p2);
    config_free(again);
    config_free(loaded);
    config_args_free(&a);
}

/* An empty file is a file: kept as 0 bytes, rebuilt from 0 bytes. */
static void
empty_file_is_kept_empty(void **state)
{
    struct fixture *fx = *state;
    struct config_args a;
    struct config *loaded, *again;
    char err[CONFIG_ERRLEN], *text;
    size_t len;

    write_file(fx->path, "", 0);
    parse_args(&a, (const char *[]){"-c", fx->path, "-l", "127.0.0.1:8004",
                                    "/bin/true", NULL});
    assert_int_equal(source_load(&a, &loaded, &text, &len, err, sizeof(err)),
                     0);
    assert_non_null(text);
    assert_int_equal(len, 0);
    assert_int_equal(source_rebuild(&a, text, len, &again, err, sizeof(err)),
                     0);
    assert_string_equal(again->listen[0].address, "127.0.0.1:8004");
    config_free(again);
    config_free(loaded);
    free(text);
    config_args_free(&a);
}

static void
file_over_1_mib_is_refused_naming_it(void **state)
{
    struct fixture *fx = *state;
    size_t big = CONFIG_FILE_MAX + 1;
    char *text = malloc(big), *kept = (char *)"x";
    struct config_args a;
    struct config *c = NULL;
    char err[CONFIG_ERRLEN];
    size_t len = 99;

    assert_non_null(text);
    memset(text, ';', big); /* one long comment */
    write_file(fx->path, text, big);
    parse_args(&a, (const char *[]){"-c", fx->path, NULL});
    assert_int_equal(source_load(&a, &c, &kept, &len, err, sizeof(err)),
                     -EFBIG);
    assert_null(c);
    assert_null(kept);
    assert_non_null(strstr(err, fx->path));
    assert_non_null(strstr(err, "too large"));
    /* Nor are such bytes taken from elsewhere. */
    assert_int_equal(source_rebuild(&a, text, big, &c, err, sizeof(err)),
                     -EFBIG);
    assert_null(c);
    assert_non_null(strstr(err, fx->path));
    free(text);
    config_args_free(&a);
}

/* Refusals read as config_load's: the same code and the same line. */
static void
assert_refused_as_config_load(const struct config_args *a)
{
    char err1[CONFIG_ERRLEN], err2[CONFIG_ERRLEN], *text = (char *)"x";
    struct config *c = NULL;
    size_t len = 99;
    int rc1, rc2;

    rc1 = config_load(a, &c, err1, sizeof(err1));
    rc2 = source_load(a, &c, &text, &len, err2, sizeof(err2));
    assert_true(rc1 < 0);
    assert_int_equal(rc2, rc1);
    assert_string_equal(err2, err1);
    assert_null(c);
    assert_null(text);
}

static void
missing_file_is_refused_as_config_load_refuses_it(void **state)
{
    struct fixture *fx = *state;
    struct config_args a;
    char err[CONFIG_ERRLEN], *text;
    struct config *c;
    size_t len;

    parse_args(&a, (const char *[]){"-c", fx->path, NULL});
    assert_refused_as_config_load(&a);
    assert_int_equal(source_load(&a, &c, &text, &len, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, fx->path));
    assert_non_null(strstr(err, "No such file"));
    config_args_free(&a);
}

static void
bad_content_names_file_line_and_key(void **state)
{
    struct fixture *fx = *state;
    static const char bad[] = "[listen web]\naddress = 127.0.0.1:8001\n"
                              "[worker]\ncommand = /bin/true\n"
                              "processes = many\n";
    struct config_args a;
    char err[CONFIG_ERRLEN], want[CONFIG_ERRLEN], *text;
    struct config *c;
    size_t len;

    write_file(fx->path, bad, strlen(bad));
    parse_args(&a, (const char *[]){"-c", fx->path, NULL});
    assert_refused_as_config_load(&a);
    assert_int_equal(source_load(&a, &c, &text, &len, err, sizeof(err)),
                     -EINVAL);
    snprintf(want, sizeof(want), "%s:5: processes: ", fx->path);
    assert_memory_equal(err, want, strlen(want));
    /* and from kept bytes, the same line */
    assert_int_equal(source_rebuild(&a, bad, strlen(bad), &c, err, sizeof(err)),
                     -EINVAL);
    assert_memory_equal(err, want, strlen(want));
    config_args_free(&a);
}

/* A check of the whole (no command) names the file as before. */
static void
validation_error_names_the_file(void **state)
{
    struct fixture *fx = *state;
    static const char nocmd[] = "[listen web]\naddress = 127.0.0.1:8001\n";
    struct config_args a;

    write_file(fx->path, nocmd, strlen(nocmd));
    parse_args(&a, (const char *[]){"-c", fx->path, NULL});
    assert_refused_as_config_load(&a);
    config_args_free(&a);
}

/* Kept bytes never hold a NUL (the file's read refuses one): bytes that
 * do came from elsewhere, and are refused rather than cut short. */
static void
rebuild_refuses_a_nul_byte(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "[listen web]\naddress = 127.0.0.1:8001\n"
                               "[worker]\ncommand = /bin/true\0junk\n";
    struct config_args a;
    struct config *c = NULL;
    char err[CONFIG_ERRLEN];

    parse_args(&a, (const char *[]){"-c", fx->path, NULL});
    assert_int_equal(
        source_rebuild(&a, text, sizeof(text) - 1, &c, err, sizeof(err)),
        -EINVAL);
    assert_null(c);
    assert_non_null(strstr(err, fx->path));
    assert_non_null(strstr(err, "NUL"));
    config_args_free(&a);
}

/* A file named without its bytes, or bytes without a file: refused, not
 * taken for a configuration without the file. */
static void
rebuild_refuses_bytes_and_file_that_disagree(void **state)
{
    struct fixture *fx = *state;
    struct config_args a, none;
    struct config *c = NULL;
    char err[CONFIG_ERRLEN];

    parse_args(&a, (const char *[]){"-c", fx->path, "-l", "127.0.0.1:8005",
                                    "/bin/true", NULL});
    assert_int_equal(source_rebuild(&a, NULL, 0, &c, err, sizeof(err)),
                     -EINVAL);
    assert_null(c);
    assert_non_null(strstr(err, fx->path));
    parse_args(&none,
               (const char *[]){"-l", "127.0.0.1:8005", "/bin/true", NULL});
    assert_int_equal(
        source_rebuild(&none, first, strlen(first), &c, err, sizeof(err)),
        -EINVAL);
    assert_null(c);
    config_args_free(&none);
    config_args_free(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            rebuild_after_edit_gives_what_was_loaded, setup, teardown),
        cmocka_unit_test_setup_teardown(rebuild_applies_the_flags_again, setup,
                                        teardown),
        cmocka_unit_test(no_file_keeps_nothing),
        cmocka_unit_test_setup_teardown(empty_file_is_kept_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(file_over_1_mib_is_refused_naming_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            missing_file_is_refused_as_config_load_refuses_it, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_content_names_file_line_and_key,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(validation_error_names_the_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rebuild_refuses_a_nul_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            rebuild_refuses_bytes_and_file_that_disagree, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
