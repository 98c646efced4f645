/* reach.c: whether a program can load the shim at all. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "reach.h"

#define REACH_MAX_SHSTR (1 << 20)

/* cmd as execvpe would find it, in out. */
static int
resolve(const char *cmd, const char *path, char *out, size_t size)
{
    if (strchr(cmd, '/') != NULL) {
        snprintf(out, size, "%s", cmd);
        return 0;
    }
    for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        if ((size_t)snprintf(out, size, "%.*s/%s", (int)n, n ? p : ".", cmd) < size &&
            access(out, X_OK) == 0)
            return 0;
        p += n;
        if (*p == ':')
            p++;
    }
    return -1;
}

/* One program header or section header, either class, as 64-bit values. */
struct hdrs {
    int is64;
    uint64_t phoff, shoff;
    uint16_t phnum, phentsize, shnum, shentsize, shstrndx;
};

static int
read_at(int fd, void *buf, size_t n, uint64_t off)
{
    return pread(fd, buf, n, (off_t)off) == (ssize_t)n ? 0 : -1;
}

static int
elf_headers(int fd, struct hdrs *h)
{
    union {
        unsigned char ident[EI_NIDENT];
        Elf64_Ehdr e64;
        Elf32_Ehdr e32;
    } u;

    if (read_at(fd, &u, sizeof(u.e32), 0) < 0 ||
        memcmp(u.ident, ELFMAG, SELFMAG) != 0)
        return -1;
    h->is64 = u.ident[EI_CLASS] == ELFCLASS64;
    if (h->is64) {
        if (read_at(fd, &u, sizeof(u.e64), 0) < 0)
            return -1;
        *h = (struct hdrs){1, u.e64.e_phoff, u.e64.e_shoff, u.e64.e_phnum,
                           u.e64.e_phentsize, u.e64.e_shnum, u.e64.e_shentsize,
                           u.e64.e_shstrndx};
        return h->phentsize >= sizeof(Elf64_Phdr) ? 0 : -1;
    }
    if (u.ident[EI_CLASS] != ELFCLASS32)
        return -1;
    *h = (struct hdrs){0, u.e32.e_phoff, u.e32.e_shoff, u.e32.e_phnum,
                       u.e32.e_phentsize, u.e32.e_shnum, u.e32.e_shentsize,
                       u.e32.e_shstrndx};
    return h->phentsize >= sizeof(Elf32_Phdr) ? 0 : -1;
}

/* Whether any program header is PT_INTERP: -1 when unreadable. */
static int
has_interp(int fd, const struct hdrs *h)
{
    for (uint16_t i = 0; i < h->phnum; i++) {
        uint32_t type;
        if (read_at(fd, &type, sizeof(type), h->phoff + (uint64_t)i * h->phentsize) < 0)
            return -1;
        if (type == PT_INTERP)
            return 1;
    }
    return 0;
}

/* Whether a section is named like the Go toolchain's. */
static int
is_go(int fd, const struct hdrs *h)
{
    uint64_t stroff, strsize, name;
    char *names;
    int found = 0;

    if (h->shoff == 0 || h->shstrndx >= h->shnum ||
        h->shentsize < (h->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)))
        return 0;
    if (h->is64) {
        Elf64_Shdr s;
        if (read_at(fd, &s, sizeof(s), h->shoff + (uint64_t)h->shstrndx * h->shentsize) < 0)
            return 0;
        stroff = s.sh_offset, strsize = s.sh_size;
    } else {
        Elf32_Shdr s;
        if (read_at(fd, &s, sizeof(s), h->shoff + (uint64_t)h->shstrndx * h->shentsize) < 0)
            return 0;
        stroff = s.sh_offset, strsize = s.sh_size;
    }
    if (strsize == 0 || strsize > REACH_MAX_SHSTR || (names = malloc(strsize + 1)) == NULL)
        return 0;
    if (read_at(fd, names, strsize, stroff) < 0) {
        free(names);
        return 0;
    }
    names[strsize] = '\0';
    for (uint16_t i = 0; i < h->shnum && !found; i++) {
        uint64_t off = h->shoff + (uint64_t)i * h->shentsize;
        if (h->is64) {
            Elf64_Shdr s;
            if (read_at(fd, &s, sizeof(s), off) < 0)
                break;
            name = s.sh_name;
        } else {
            Elf32_Shdr s;
            if (read_at(fd, &s, sizeof(s), off) < 0)
                break;
            name = s.sh_name;
        }
        found = name < strsize && (strcmp(names + name, ".note.go.buildid") == 0 ||
                                   strcmp(names + name, ".go.buildinfo") == 0);
    }
    free(names);
    return found;
}

static int
judge(const char *cmd, const char *path, uid_t uid, gid_t gid, char *why,
      size_t size, int depth)
{
    char file[4096], line[512];
    struct stat st;
    struct hdrs h;
    ssize_t n;
    int fd, rc = 0;

    if (depth > 4 || resolve(cmd, path, file, sizeof(file)) < 0 ||
        stat(file, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    /* Secure mode comes from an exec that changes credentials. */
    if ((st.st_mode & S_ISUID) && st.st_uid != uid) {
        snprintf(why, size, "%s is setuid", file);
        return 1;
    }
    if ((st.st_mode & S_ISGID) && st.st_gid != gid) {
        snprintf(why, size, "%s is setgid", file);
        return 1;
    }
    if (uid != 0 && getxattr(file, "security.capability", NULL, 0) > 0) {
        snprintf(why, size, "%s has file capabilities", file);
        return 1;
    }
    if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    n = pread(fd, line, sizeof(line) - 1, 0);
    if (n > 2 && line[0] == '#' && line[1] == '!') {
        char *interp, *end;
        line[n] = '\0';
        interp = line + 2 + strspn(line + 2, " \t");
        end = interp + strcspn(interp, " \t\r\n");
        *end = '\0';
        close(fd);
        /* "#!/usr/bin/env prog": env is dynamic, prog is what runs. */
        if (strcmp(interp, "/usr/bin/env") == 0 && end - line < n) {
            char *arg = end + 1 + strspn(end + 1, " \t");
            arg[strcspn(arg, " \t\r\n")] = '\0';
            if (*arg != '\0' && *arg != '-')
                return judge(arg, path, uid, gid, why, size, depth + 1);
        }
        return *interp ? judge(interp, path, uid, gid, why, size, depth + 1) : 0;
    }
    if (elf_headers(fd, &h) == 0) {
        if (has_interp(fd, &h) == 0) {
            snprintf(why, size, "%s is statically linked", file);
            rc = 1;
        } else if (is_go(fd, &h)) {
            snprintf(why, size, "%s is a Go program", file);
            rc = 1;
        }
    }
    close(fd);
    return rc;
}

int
reach_bypasses(const char *cmd, const char *path, uid_t uid, gid_t gid,
               char *why, size_t size)
{
    if (cmd == NULL || *cmd == '\0')
        return 0;
    return judge(cmd, path, uid, gid, why, size, 0);
}
