/*
 * queue_cat.c - print a queue file's envelope and content, for the tests: never installed.
 *
 *   queue_cat FILE     envelope lines ("sender <s>", "rcpt <a> notify=N orcpt=O", ...), an
 *                      empty line, then the content bytes exactly as stored
 *
 * Exits 1 with "bad FILE: reason" when the file fails queue_file_read's checks.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "mail/queue_file.h"

static bool
put_content(const char *data, size_t len, void *ctx)
{
    return fwrite(data, 1, len, stdout) == len;
}

int
main(int argc, char **argv)
{
    struct queue_envelope env;
    struct err err;
    int fd;
    bool good;

    if (argc != 2) {
        fprintf(stderr, "usage: queue_cat FILE\n");
        return 2;
    }
    if ((fd = open(argv[1], O_RDONLY)) < 0 || !queue_file_read(fd, &env, &err)) {
        printf("bad %s: %s\n", argv[1], fd < 0 ? "cannot open" : err.text);
        return 1;
    }
    printf("sender <%s>\nret %s\nenvid %s\nclient_name %s\nclient_addr %s\nhelo %s\n"
           "protocol %s\nsize %llu\nnrcpt %zu\n",
           env.sender, env.ret, env.envid, env.client_name, env.client_addr, env.helo, env.protocol,
           (unsigned long long)env.size, env.nrcpt);
    for (size_t i = 0; i < env.nrcpt; i++)
        printf("rcpt <%s> notify=%s orcpt=%s\n", env.rcpt[i].addr, env.rcpt[i].notify,
               env.rcpt[i].orcpt);
    printf("\n");
    fflush(stdout);
    good = queue_file_content(fd, &env, put_content, NULL, &err);
    fflush(stdout);
    queue_envelope_free(&env);
    close(fd);
    if (!good) {
        fprintf(stderr, "bad %s: %s\n", argv[1], err.text);
        return 1;
    }
    return 0;
}
