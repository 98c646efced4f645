/* crash-check.c: a binary that dies by SIGSEGV while it checks a state (for tests/integration/upgrade.sh): an upgrade to it is refused. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    char buf[4096];

    /* Reads some of the document, as a real check would, then crashes. */
    if (argc > 1 && strcmp(argv[1], "--upgrade-check") == 0) {
        (void)fread(buf, 1, sizeof(buf), stdin);
        fprintf(stderr, "checking the state\n");
        raise(SIGSEGV);
    }
    puts("crash-check: run me with --upgrade-check");
    return 0;
}
