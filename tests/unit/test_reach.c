/* test_reach.c: telling programs that cannot load the shim from those that can. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reach.h"

static char dir[] = "/tmp/handoff-reach.XXXXXX";

static int
setup(void **state)
{
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    char cmd[64];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *
put(const char *name, const void *data, size_t n, mode_t mode)
{
    static char path[256];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

/*
 * A minimal 64-bit ELF file: a header, program headers of the given types
 * and, when go is set, a section table naming .note.go.buildid.
 */
static size_t
make_elf(unsigned char *buf, const uint32_t *ptypes, int nph, int go)
{
    Elf64_Ehdr *e = (Elf64_Ehdr *)buf;
    static const char names[] = "\0.shstrtab\0.note.go.buildid";
    size_t off = sizeof(*e);

    memset(buf, 0, 4096);
    memcpy(e->e_ident, ELFMAG, SELFMAG);
    e->e_ident[EI_CLASS] = ELFCLASS64;
    e->e_ident[EI_DATA] = ELFDATA2LSB;
    e->e_ident[EI_VERSION] = EV_CURRENT;
    e->e_type = ET_EXEC;
    e->e_machine = EM_X86_64;
    e->e_phoff = off;
    e->e_phentsize = sizeof(Elf64_Phdr);
    e->e_phnum = (uint16_t)nph;
    for (int i = 0; i < nph; i++) {
        Elf64_Phdr *p = (Elf64_Phdr *)(buf + off);
        p->p_type = ptypes[i];
        off += sizeof(*p);
    }
    if (go) {
        Elf64_Shdr *sh;
        memcpy(buf + off, names, sizeof(names));
        size_t stroff = off;
        off += sizeof(names);
        off = (off + 7) & ~(size_t)7;
        e->e_shoff = off;
        e->e_shentsize = sizeof(Elf64_Shdr);
        e->e_shnum = 3;
        e->e_shstrndx = 1;
        sh = (Elf64_Shdr *)(buf + off);
        sh[1].sh_name = 1;
        sh[1].sh_type = SHT_STRTAB;
        sh[1].sh_offset = stroff;
        sh[1].sh_size = sizeof(names);
        sh[2].sh_name = 11;
        sh[2].sh_type = SHT_NOTE;
        off += 3 * sizeof(Elf64_Shdr);
    }
    return off;
}

static void
dynamic_programs_are_reached(void **state)
{
    char why[256] = "";

    assert_int_equal(reach_bypasses("/bin/sh", NULL, getuid(), getgid(), why, sizeof(why)), 0);
    assert_int_equal(reach_bypasses("sh", "/nonexistent:/bin", getuid(), getgid(), why, sizeof(why)), 0);
    assert_string_equal(why, "");
}

static void
missing_and_odd_files_are_not_judged(void **state)
{
    char why[256];

    assert_int_equal(reach_bypasses("/nonexistent/prog", NULL, 0, 0, why, sizeof(why)), 0);
    assert_int_equal(reach_bypasses("no-such-prog-here", "/bin", 0, 0, why, sizeof(why)), 0);
    assert_int_equal(reach_bypasses("", NULL, 0, 0, why, sizeof(why)), 0);
    assert_int_equal(reach_bypasses("/tmp", NULL, 0, 0, why, sizeof(why)), 0);
    assert_int_equal(reach_bypasses(put("short", "\x7f" "EL", 3, 0755), NULL, 0, 0, why, sizeof(why)), 0);
    assert_int_equal(reach_bypasses(put("text", "echo hi\n", 8, 0755), NULL, 0, 0, why, sizeof(why)), 0);
}

static void
static_elf_bypasses(void **state)
{
    unsigned char buf[4096];
    uint32_t load[] = {PT_LOAD, PT_LOAD};
    uint32_t dyn[] = {PT_PHDR, PT_INTERP, PT_LOAD};
    char why[256];
    const char *p;

    p = put("static", buf, make_elf(buf, load, 2, 0), 0755);
    assert_int_equal(reach_bypasses(p, NULL, getuid(), getgid(), why, sizeof(why)), 1);
    assert_non_null(strstr(why, "statically linked"));
    assert_non_null(strstr(why, "/static"));
    p = put("dynamic", buf, make_elf(buf, dyn, 3, 0), 0755);
    assert_int_equal(reach_bypasses(p, NULL, getuid(), getgid(), why, sizeof(why)), 0);
}

static void
go_elf_bypasses_even_when_dynamic(void **state)
{
    unsigned char buf[4096];
    uint32_t dyn[] = {PT_PHDR, PT_INTERP, PT_LOAD};
    char why[256];
    const char *p = put("goprog", buf, make_elf(buf, dyn, 3, 1), 0755);

    assert_int_equal(reach_bypasses(p, NULL, getuid(), getgid(), why, sizeof(why)), 1);
    assert_non_null(strstr(why, "is a Go program"));
}

static void
scripts_are_judged_by_their_interpreter(void **state)
{
    unsigned char buf[4096];
    uint32_t load[] = {PT_LOAD};
    char why[256], script[512];
    const char *p;

    put("static", buf, make_elf(buf, load, 1, 0), 0755);
    snprintf(script, sizeof(script), "#!%s/static -x\nbody\n", dir);
    p = put("script", script, strlen(script), 0755);
    assert_int_equal(reach_bypasses(p, NULL, getuid(), getgid(), why, sizeof(why)), 1);
    assert_non_null(strstr(why, "/static is statically linked"));
    /* #!/usr/bin/env NAME: NAME is searched in the path. */
    p = put("envscript", "#!/usr/bin/env static\n", 22, 0755);
    assert_int_equal(reach_bypasses(p, dir, getuid(), getgid(), why, sizeof(why)), 1);
    p = put("shscript", "#! /bin/sh\necho hi\n", 19, 0755);
    assert_int_equal(reach_bypasses(p, NULL, getuid(), getgid(), why, sizeof(why)), 0);
    /* A script that names itself does not loop. */
    snprintf(script, sizeof(script), "#!%s/loop\n", dir);
    p = put("loop", script, strlen(script), 0755);
    assert_int_equal(reach_bypasses(p, NULL, getuid(), getgid(), why, sizeof(why)), 0);
}

static void
setuid_bypasses_only_for_another_user(void **state)
{
    unsigned char buf[4096];
    uint32_t dyn[] = {PT_INTERP};
    char why[256];
    const char *p = put("suid", buf, make_elf(buf, dyn, 1, 0), 04755);
    struct stat st;

    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(reach_bypasses(p, NULL, st.st_uid, st.st_gid, why, sizeof(why)), 0);
    assert_int_equal(reach_bypasses(p, NULL, st.st_uid + 1, st.st_gid, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "is setuid"));
    p = put("sgid", buf, make_elf(buf, dyn, 1, 0), 02755);
    assert_int_equal(reach_bypasses(p, NULL, st.st_uid, st.st_gid + 1, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "is setgid"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dynamic_programs_are_reached),
        cmocka_unit_test(missing_and_odd_files_are_not_judged),
        cmocka_unit_test(static_elf_bypasses),
        cmocka_unit_test(go_elf_bypasses_even_when_dynamic),
        cmocka_unit_test(scripts_are_judged_by_their_interpreter),
        cmocka_unit_test(setuid_bypasses_only_for_another_user),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
