/*
 * log.c - one logging front end for every postern program.
 *
 * Trusts: nothing in the message text; it may carry client input, so control characters
 * are replaced before the line is written (no forged log lines). Lines look like Postfix's
 * so that pflogsumm, fail2ban and log exporters parse them unchanged:
 *     Nov 28 15:18:04 mx postern/smtpd[4242]: warning: ...
 * Process-wide state is on purpose: logging must work before any context exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define LOG_LINE_MAX 4096

enum log_dest {
    DEST_STDERR,
    DEST_SYSLOG,
    DEST_FILE,
};

static struct {
    char tag[256];
    enum log_dest dest;
    int fd;
    int verbose;
    char trace[512];
    char hostname[256];
} logger = {.tag = "postern", .dest = DEST_STDERR, .fd = 2};

void
log_init(const char *syslog_name, const char *program)
{
    if (program && *program)
        snprintf(logger.tag, sizeof(logger.tag), "%s/%s", syslog_name, program);
    else
        snprintf(logger.tag, sizeof(logger.tag), "%s", syslog_name);
    if (gethostname(logger.hostname, sizeof(logger.hostname) - 1) < 0)
        strcpy(logger.hostname, "localhost");
    logger.hostname[strcspn(logger.hostname, ".")] = 0;
    if (logger.dest == DEST_SYSLOG) {
        closelog();
        openlog(logger.tag, LOG_PID | LOG_NDELAY, LOG_MAIL);
    }
}

/* log_file_fd - the descriptor log lines go to when logging to a file, else -1 */
int
log_file_fd(void)
{
    return logger.dest == DEST_SYSLOG ? -1 : logger.fd;
}

void
log_to_syslog(void)
{
    if (logger.dest == DEST_FILE && logger.fd > 2)
        close(logger.fd);
    logger.dest = DEST_SYSLOG;
    openlog(logger.tag, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/*
 * log_open_file - open maillog_file for appending. Daemons open it as root before they drop
 * privileges, so a symlink, a hard link to another file or anything but a regular file or a
 * terminal is refused (errno ELOOP or EPERM): whoever can write its directory must not be
 * able to point root's appends elsewhere.
 */
static int
log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
    struct stat st;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !((S_ISREG(st.st_mode) && st.st_nlink == 1) || S_ISCHR(st.st_mode))) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

/* log_to_file - append to maillog_file; keeps the old destination if it cannot be opened */
bool
log_to_file(const char *path)
{
    int fd;

    if (strcmp(path, "/dev/stdout") == 0)
        fd = 1;
    else if (strcmp(path, "/dev/stderr") == 0)
        fd = 2;
    else if ((fd = log_open_file(path)) < 0)
        return false;
    if (logger.dest == DEST_FILE && logger.fd > 2)
        close(logger.fd);
    logger.dest = DEST_FILE;
    logger.fd = fd;
    return true;
}

void
log_to_stderr(void)
{
    if (logger.dest == DEST_FILE && logger.fd > 2)
        close(logger.fd);
    logger.dest = DEST_STDERR;
    logger.fd = 2;
}

void
log_set_verbose(int level)
{
    logger.verbose = level;
}

int
log_verbose(void)
{
    return logger.verbose;
}

/* log_set_trace - enable debug lines for a comma or space separated list of subsystems */
void
log_set_trace(const char *subsystems)
{
    snprintf(logger.trace, sizeof(logger.trace), " %s ", subsystems ? subsystems : "");
    for (char *p = logger.trace; *p; p++)
        if (*p == ',' || *p == '\t')
            *p = ' ';
}

bool
log_trace_on(const char *subsystem)
{
    char word[128];

    if (logger.verbose > 0)
        return true;
    snprintf(word, sizeof(word), " %s ", subsystem);
    return strstr(logger.trace, word) != NULL || strstr(logger.trace, " all ") != NULL;
}

/* log_sanitize - replace control characters so that one call writes exactly one line */
static void
log_sanitize(char *text)
{
    for (unsigned char *p = (unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static void log_write(int priority, const char *prefix, const char *fmt, va_list ap)
    LOG_PRINTF(3, 0);

/*
 * log_write - one Postfix-shaped line to the destination: syslog, the log file or stderr;
 * keeps errno
 */
static void
log_write(int priority, const char *prefix, const char *fmt, va_list ap)
{
    char text[LOG_LINE_MAX];
    char line[LOG_LINE_MAX + 512];
    int saved_errno = errno;
    size_t n;

    n = (size_t)snprintf(text, sizeof(text), "%s", prefix);
    if (n < sizeof(text))
        vsnprintf(text + n, sizeof(text) - n, fmt, ap);
    log_sanitize(text);

    switch (logger.dest) {
    case DEST_SYSLOG:
        syslog(priority, "%s", text);
        break;
    case DEST_FILE: {
        char stamp[64];
        struct tm tm;
        time_t now = time(NULL);

        strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", localtime_r(&now, &tm));
        n = (size_t)snprintf(line, sizeof(line), "%s %s %s[%ld]: %s\n", stamp, logger.hostname,
                             logger.tag, (long)getpid(), text);
        break;
    }
    case DEST_STDERR:
        n = (size_t)snprintf(line, sizeof(line), "%s: %s\n", logger.tag, text);
        break;
    }
    if (logger.dest != DEST_SYSLOG) {
        if (n >= sizeof(line)) {
            n = sizeof(line) - 1;
            line[n - 1] = '\n';
        }
        if (write(logger.fd, line, n) < 0) {
            /* Nowhere left to complain. */
        }
    }
    errno = saved_errno;
}

#define LOG_BODY(priority, prefix)            \
    do {                                      \
        va_list ap;                           \
        va_start(ap, fmt);                    \
        log_write(priority, prefix, fmt, ap); \
        va_end(ap);                           \
    } while (0)

void
log_info(const char *fmt, ...)
{
    LOG_BODY(LOG_INFO, "");
}

void
log_warn(const char *fmt, ...)
{
    LOG_BODY(LOG_WARNING, "warning: ");
}

void
log_error(const char *fmt, ...)
{
    LOG_BODY(LOG_ERR, "error: ");
}

void
log_debug(const char *fmt, ...)
{
    if (logger.verbose > 0)
        LOG_BODY(LOG_DEBUG, "");
}

void
log_trace(const char *subsystem, const char *fmt, ...)
{
    if (log_trace_on(subsystem))
        LOG_BODY(LOG_DEBUG, "");
}

void
log_fatal(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, "fatal: ");
    /* Leave at once: no exit handlers in a process whose state is not to be trusted. */
    fflush(NULL);
    _exit(1);
}

void
log_panic(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, "panic: ");
    abort();
}
