/* log.h - Postfix-shaped logging to syslog, a file or stderr */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdbool.h>

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

/*
 * Every line carries the tag "<syslog_name>/<program>[pid]". Destinations:
 *   syslog   the mail facility, as Postfix does;
 *   file     maillog_file, in syslog's own line format ("/dev/stdout" is fine);
 *   stderr   "tag: text", for command-line tools.
 * Control characters in a line (say CR/LF from a client) are written as '?'.
 */
void log_init(const char *syslog_name, const char *program);
void log_to_syslog(void);
bool log_to_file(const char *path);
void log_to_stderr(void);
void log_set_verbose(int level);
int log_verbose(void);
void log_set_trace(const char *subsystems);
bool log_trace_on(const char *subsystem);
int log_file_fd(void);

void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_trace(const char *subsystem, const char *fmt, ...) LOG_PRINTF(2, 3);
_Noreturn void log_fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void log_panic(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
