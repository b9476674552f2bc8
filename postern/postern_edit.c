/*
 * postern_edit.c - edit main.cf in place for `postern conf name=value` and `-X name`.
 *
 * Runs as the administrator. Keeps every comment, blank line and the order of entries;
 * an entry that is changed is replaced where it stands (with its continuation lines),
 * later duplicates of it are dropped, and a new one goes at the end. The new file is
 * written beside the old one, synced and renamed over it, with the old owner and mode, so
 * a crash leaves either the old or the new file, never half of one.
 *
 * Trusts: the administrator's arguments (checked as parameter names and values) and
 * main.cf as text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "core/textfile.h"
#include "postern/postern_edit.h"

#define EDIT_FILE_MAX (16 * 1024 * 1024)

struct edit {
    struct strvec names;  /* what to change or remove */
    struct strvec values; /* new values (empty when removing) */
    bool *done;           /* names[i] already written */
    bool remove;
};

/* edit_entry_name - the parameter a line starts, or NULL for comments and continuations */
static char *
edit_entry_name(const char *line)
{
    size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    const char *after = line + n + strspn(line + n, " \t");

    if (n == 0 || *after != '=')
        return NULL;
    return xstrndup(line, n);
}

static int
edit_find(const struct edit *ed, const char *name)
{
    for (size_t i = 0; i < ed->names.n; i++)
        if (strcmp(ed->names.v[i], name) == 0)
            return (int)i;
    return -1;
}

/* edit_apply - copy text to out, replacing or dropping the entries being edited */
static void
edit_apply(struct edit *ed, const char *text, struct buf *out)
{
    bool skipping = false;

    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        char *line = xstrndup(p, len);
        char *name = edit_entry_name(line);
        int hit = name ? edit_find(ed, name) : -1;
        const char *first = line + strspn(line, " \t\r");
        bool continuation = (line[0] == ' ' || line[0] == '\t') && *first && *first != '#';

        p += len + (p[len] == '\n');
        if (name)
            skipping = hit >= 0;
        if (hit >= 0 && !ed->remove && !ed->done[hit])
            buf_printf(out, "%s = %s\n", ed->names.v[hit], ed->values.v[hit]);
        if (hit >= 0)
            ed->done[hit] = true;
        if (!(skipping && (name || continuation)))
            buf_printf(out, "%s\n", line);
        free(name);
        free(line);
    }
    for (size_t i = 0; !ed->remove && i < ed->names.n; i++)
        if (!ed->done[i])
            buf_printf(out, "%s = %s\n", ed->names.v[i], ed->values.v[i]);
}

/* edit_write - replace path with content atomically, keeping owner and mode */
static bool
edit_write(const char *path, const struct buf *content)
{
    char *tmp = xasprintf("%s.postern-tmp", path);
    struct stat st;
    int fd;
    bool good;

    if (stat(path, &st) < 0) {
        st.st_mode = 0644;
        st.st_uid = geteuid();
        st.st_gid = getegid();
    }
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777)) < 0) {
        log_error("create %s: %m", tmp);
        free(tmp);
        return false;
    }
    good = write(fd, content->data, content->len) == (ssize_t)content->len &&
           (fchown(fd, st.st_uid, st.st_gid) == 0 || errno == EPERM) &&
           fchmod(fd, st.st_mode & 07777) == 0 && fsync(fd) == 0;
    if (close(fd) < 0 || !good || rename(tmp, path) < 0) {
        log_error("write %s: %m", path);
        unlink(tmp);
        good = false;
    }
    free(tmp);
    return good;
}

/* edit_parse_args - "name=value", "name = value", or bare names for -X */
static bool
edit_parse_args(struct edit *ed, char **args, int n)
{
    for (int i = 0; i < n; i++) {
        char *copy = xstrdup(args[i]), *eq = strchr(copy, '=');
        char *name = str_trim(copy);

        if (eq) {
            *eq = 0;
            name = str_trim(copy);
        }
        if (*name == 0 ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_") != strlen(name) ||
            (eq == NULL) != ed->remove) {
            log_error("bad argument \"%s\": expected %s", args[i],
                      ed->remove ? "a parameter name" : "name=value");
            free(copy);
            return false;
        }
        strvec_add(&ed->names, name);
        strvec_add(&ed->values, eq ? str_trim(eq + 1) : "");
        free(copy);
    }
    return true;
}

/*
 * postern_edit_main_cf - set (name=value) or remove (-X) parameters in main.cf in place,
 * keeping comments and order; written to a temporary file and renamed
 */
int
postern_edit_main_cf(const char *path, char **args, int n, bool remove)
{
    struct edit ed = {.remove = remove};
    struct buf text, out;
    struct err why;
    int status = 1;

    strvec_init(&ed.names);
    strvec_init(&ed.values);
    if (n == 0 || !edit_parse_args(&ed, args, n))
        goto done;
    if (!textfile_read(path, EDIT_FILE_MAX, &text, &why)) {
        if (why.kind != ERR_MISSING || remove) {
            log_error("%s", why.text);
            goto done;
        }
        buf_init(&text, EDIT_FILE_MAX);
    }
    ed.done = xcalloc(ed.names.n + 1, sizeof(bool));
    buf_init(&out, BUF_UNLIMITED);
    edit_apply(&ed, buf_str(&text), &out);
    status = edit_write(path, &out) ? 0 : 1;
    buf_free(&out);
    buf_free(&text);
    free(ed.done);
done:
    strvec_free(&ed.names);
    strvec_free(&ed.values);
    return status;
}
