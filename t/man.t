#!/usr/bin/python3
"""man.t - the manual as `make install` lays it out (doc/testing.md, "Manual pages"): every
installed program has a page, every page in man/ and build/man/ is installed in the
directory of its section, lint-clean (tools/check-man) and rendered by man(1) without a
warning; the README's layout table, cross-references, the parameter reference, the table
types and postern's verbs are all covered; and the table examples in the pages build and
answer as the pages say."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from tap import TAP  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ["BUILD"]
SECTIONS = ("1", "5", "8")

# Pages that are not postern's but that postern's pages may name: the system's, and
# Postfix's where a page compares a postern command or format with Postfix's. A reference
# to anything else must be one of postern's own pages.
EXTERNAL = {
    "sh(1)", "syslog(3)", "passwd(5)", "getpwnam(3)", "pcre2pattern(3)", "pcre2syntax(3)",
    "inet_pton(3)", "flock(2)", "fcntl(2)", "crontab(5)", "cron(8)", "systemd(1)",
    "postfix(1)", "postconf(1)", "postmap(1)", "postalias(1)", "sendmail(1)",
}


def clean_env():
    """The environment for a nested make: none of the calling make's jobserver state."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    env["LC_ALL"] = "C.UTF-8"
    env["MANWIDTH"] = "80"
    return env


def install(t, destdir):
    run = subprocess.run(["make", "-s", "-C", SRC, "install", "BUILD=" + BUILD,
                          "DESTDIR=" + destdir], env=clean_env(), capture_output=True, text=True)
    if not t.ok(run.returncode == 0, "make install DESTDIR=... succeeds"):
        t.diag(run.stdout + run.stderr)
        return False
    return True


def find_mandir(destdir):
    """The directory that holds man1, man5 and man8 under destdir."""
    found = []
    for root, dirs, _ in os.walk(destdir):
        if "man8" in dirs:
            found.append(root)
    return found


def installed_programs(destdir, mandir):
    """Every executable file make install wrote, outside the manual."""
    progs = []
    for root, _, files in os.walk(destdir):
        if root.startswith(mandir):
            continue
        for name in files:
            path = os.path.join(root, name)
            if os.access(path, os.X_OK) and not os.path.isdir(path):
                progs.append(path)
    return sorted(progs)


def source_pages():
    pages = []
    for d in (os.path.join(SRC, "man"), os.path.join(BUILD, "man")):
        if os.path.isdir(d):
            pages += [os.path.join(d, n) for n in sorted(os.listdir(d))]
    return pages


def installed_pages(mandir, links=False):
    """The pages in man1, man5 and man8: the files, or (links) the symbolic links."""
    pages = []
    for s in SECTIONS:
        d = os.path.join(mandir, "man" + s)
        pages += [os.path.join(d, n) for n in sorted(os.listdir(d))
                  if os.path.islink(os.path.join(d, n)) == links]
    return pages


def check_links(t, mandir):
    """A second name of a program may be a link to its page; it must lead to a page."""
    for link in installed_pages(mandir, links=True):
        target = os.path.realpath(link)
        t.ok(os.path.dirname(os.path.dirname(target)) == os.path.realpath(mandir) and
             target in [os.path.realpath(p) for p in installed_pages(mandir)],
             "%s links to an installed page" % os.path.relpath(link, mandir))


def check_programs(t, destdir, mandir):
    progs = installed_programs(destdir, mandir)
    t.ok(len(progs) >= 2, "make install installed programs (%d)" % len(progs))
    for path in progs:
        name = os.path.basename(path)
        where = [os.path.join(mandir, "man" + s, name + "." + s) for s in ("1", "8")]
        t.ok(any(os.path.exists(p) for p in where),
             "%s has a page: man1/%s.1 or man8/%s.8" % (path[len(destdir):], name, name))


def check_installed(t, mandir):
    for page in source_pages():
        name = os.path.basename(page)
        section = name.rsplit(".", 1)[-1]
        dest = os.path.join(mandir, "man" + section, name)
        same = os.path.exists(dest) and open(dest, "rb").read() == open(page, "rb").read()
        t.ok(same, "%s is installed as man%s/%s" % (os.path.relpath(page, SRC), section, name))


def check_lint_and_render(t, mandir):
    pages = installed_pages(mandir)
    run = subprocess.run([os.path.join(SRC, "tools", "check-man")] + pages,
                         capture_output=True, text=True)
    if not t.ok(run.returncode == 0, "tools/check-man: the %d installed pages are lint-clean"
                % len(pages)):
        t.diag(run.stdout + run.stderr)
    for page in pages:
        run = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page],
                             env=clean_env(), capture_output=True, text=True)
        good = run.returncode == 0 and run.stderr == "" and "NAME" in run.stdout
        if not t.ok(good, "man --warnings -l %s renders without a warning"
                    % os.path.relpath(page, mandir)):
            t.diag(run.stderr)


def page_names(mandir):
    return {"%s(%s)" % (n.rsplit(".", 1)[0], s)
            for s in SECTIONS for n in os.listdir(os.path.join(mandir, "man" + s))}


def check_readme(t, mandir):
    text = open(os.path.join(SRC, "README.md")).read()
    row = [line for line in text.splitlines() if line.startswith("| `$mandir/")]
    if not t.ok(len(row) == 1, "README.md's layout table has one $mandir row"):
        return
    listed = re.findall(r"`([a-z0-9_.-]+\([158]\))`", row[0])
    t.ok(len(listed) > 0, "the $mandir row lists pages (%d)" % len(listed))
    have = page_names(mandir)
    for ref in listed:
        t.ok(ref in have, "README.md's %s is installed" % ref)
    unlisted = sorted(have - set(listed))
    if not t.ok(not unlisted, "README.md's $mandir row names every installed page"):
        t.diag("not in README.md: " + " ".join(unlisted))


# A reference to a page: ".BR name (5)" on its own line, or "\fBname\fR(5)" in running text.
REF = re.compile(r"^\.[BI]R \\?\"?([A-Za-z0-9_.-]+)\"? \(([0-9])\)"
                 r"|\\fB([A-Za-z0-9_.-]+)\\fR\(([0-9])\)", re.M)


def check_references(t, mandir):
    have = page_names(mandir)
    missing = []
    for page in installed_pages(mandir):
        for m in REF.finditer(open(page, errors="replace").read()):
            ref = "%s(%s)" % ((m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4)))
            if ref not in have and ref not in EXTERNAL:
                missing.append("%s names %s" % (os.path.basename(page), ref))
    if not t.ok(not missing, "every page a page refers to is installed (or listed in EXTERNAL)"):
        t.diag("\n".join(missing))


TYPE_WORDS = {"STR": "string", "INT": "integer", "BOOL": "yes or no", "TIME": "time",
              "SIZE": "size in bytes", "LIST": "list"}


def check_params(t, mandir):
    page = open(os.path.join(mandir, "man5", "postern-params.5")).read()
    decl = open(os.path.join(SRC, "lib", "mail", "params.def")).read()
    names = []
    for line in re.findall(r"^PARAM(?:_NAMED)?\(.*\)$", decl, re.M):
        m = (re.match(r'PARAM_NAMED\((\w+), \w+, "([^"]+)",', line) or
             re.match(r"PARAM\((\w+), (\w+),", line))
        kind, name = m.groups()
        names.append((kind, name, re.findall(r'"((?:[^"\\]|\\.)*)"', line)[-1]))
    t.ok(len(names) > 100, "params.def declares parameters (%d)" % len(names))
    absent = []
    for kind, name, doc in names:
        doc = doc.replace('\\"', '"').replace("\\\\", "\\e").replace("-", "\\-")
        entry = r"^\.B %s\n\(%s[,;].*default: .*\)\n\.br\n%s\n" % (
            re.escape(name), TYPE_WORDS[kind], re.escape(doc))
        if not re.search(entry, page, re.M):
            absent.append(name)
    if not t.ok(not absent, "postern-params(5) has every parameter with its type, default and "
                "description"):
        t.diag(" ".join(absent))


# Pages whose EXAMPLES section is a table source: the example must build and open as that
# table type and answer as the page says, so a page never shows a table postern refuses.
# page: (verb, type, [(key, value the page promises, or None for not found)])
EXAMPLE_TABLES = {
    "lmdb_table.5": ("map", "lmdb", [
        ("BULK@Example.com", "550 5.7.1 this sender is not welcome here any more"),
        ("Spammer@example.NET", "REJECT"), ("example.com", None)]),
    "pcre_table.5": ("map", "pcre", [
        ("dsl-7.example.net", "REJECT dynamic host"), ("dsl-7.example.org", None),
        ("MAIL.example.com", "550 Do not use my name"), ("Bob@old.example", "Bob@new.example")]),
    "cidr_table.5": ("map", "cidr", [
        ("203.0.113.20", "REJECT not from this network"), ("203.0.113.5", None),
        ("203.0.113.200", "DUNNO"), ("2001:db8:1::9", "OK"), ("mail.example.com", None)]),
    "access.5": ("map", "lmdb", [
        ("Spammer@Example.net", "REJECT"), ("<>", "550 5.7.1 no bounces to this host"),
        ("example.org", "DEFER mail from example.org waits until Monday")]),
    "virtual.5": ("map", "lmdb", [
        ("Info@Example.org", "alice@example.net, bob"), ("@example.org", "catchall@example.net")]),
    "transport.5": ("map", "lmdb", [
        (".Customer.example", "relay:[192.0.2.25]"),
        ("partner.example", ":[mx.partner.example]:2525")]),
    "aliases.5": ("alias", "hash", [
        ("Abuse", "alice, bob@example.org"), ("tickets", '"|/usr/local/bin/ticket --queue=mail"')]),
}


def example_text(page):
    """The first .nf/.fi block of a page's EXAMPLES section, roff escapes undone."""
    text = open(page).read()
    section = text.split("\n.SH EXAMPLES\n", 1)[1].split("\n.SH ", 1)[0]
    block = section.split(".nf\n", 1)[1].split("\n.fi", 1)[0]
    return block.replace("\\&", "").replace("\\e", "\\").replace("\\-", "-") + "\n"


def check_examples(t, mandir, workdir):
    postern = os.path.join(BUILD, "bin", "postern")
    for name, (verb, kind, lookups) in sorted(EXAMPLE_TABLES.items()):
        source = os.path.join(workdir, name + ".src")
        with open(source, "w") as f:
            f.write(example_text(os.path.join(mandir, "man5", name)))
        table = "%s:%s" % (kind, source)
        if kind in ("lmdb", "hash"):
            run = subprocess.run([postern, verb, table], capture_output=True, text=True)
            if not t.ok(run.returncode == 0 and run.stderr == "",
                        "%s: the example builds as a %s table" % (name, kind)):
                t.diag(run.stderr)
        for key, want in lookups:
            run = subprocess.run([postern, verb, "-q", key, table], capture_output=True,
                                 text=True)
            got = run.stdout.rstrip("\n") if run.returncode == 0 else None
            if not t.is_eq(got, want, "%s: the example answers %r for %r" % (name, want, key)):
                t.diag(run.stderr)


def check_table_types(t, mandir):
    """Every type in lib/core/map.c's registry has an entry in postern-tables(5)."""
    registry = open(os.path.join(SRC, "lib", "core", "map.c")).read()
    types = re.findall(r'^\s*\{"(\w+)", map_\w+_open,', registry, re.M) + ["proxy"]
    text = open(os.path.join(mandir, "man5", "postern-tables.5")).read()
    section = text.split("\n.SH TABLE TYPES\n", 1)[1].split("\n.SH ", 1)[0]
    heads = re.findall(r"^\.TP\n(.*)$", section, re.M)
    t.ok(len(types) > 5, "lib/core/map.c registers table types (%d)" % len(types))
    for kind in types:
        t.ok(any(re.search(r'(^|[ "])%s:' % kind, h) for h in heads),
             "postern-tables(5) has an entry for %s: tables" % kind)


def check_verbs(t, mandir):
    """Every verb of postern/postern.c has an entry in postern(8)'s VERBS section."""
    source = open(os.path.join(SRC, "postern", "postern.c")).read()
    verbs = re.findall(r'^\s*\{"([\w-]+)", postern_\w+_main, "', source, re.M)
    text = open(os.path.join(mandir, "man8", "postern.8")).read()
    section = text.split("\n.SH VERBS\n", 1)[1].split("\n.SH ", 1)[0]
    t.ok(len(verbs) > 5, "postern/postern.c has verbs (%d)" % len(verbs))
    for verb in verbs:
        name = re.escape(verb).replace("\\-", r"\\?-")
        t.ok(re.search(r"^\.TP\n\.B %s$" % name, section, re.M) is not None,
             "postern(8) describes the verb %s" % verb)


def check_manual(t, destdir, mandir):
    check_programs(t, destdir, mandir)
    check_installed(t, mandir)
    check_lint_and_render(t, mandir)
    check_links(t, mandir)
    check_readme(t, mandir)
    check_references(t, mandir)
    check_params(t, mandir)
    check_table_types(t, mandir)
    check_verbs(t, mandir)
    check_examples(t, mandir, destdir)


def main():
    t = TAP()
    if subprocess.run(["sh", "-c", "command -v mandoc && command -v man && command -v lexgrog"],
                      capture_output=True).returncode != 0:
        t.skip_all("mandoc or man-db not installed (tools/setup-deps)")
    with tempfile.TemporaryDirectory(prefix="postern-man.") as destdir:
        if install(t, destdir):
            mandirs = find_mandir(destdir)
            if t.ok(len(mandirs) == 1, "one manual directory under DESTDIR"):
                check_manual(t, destdir, mandirs[0])
    return t.done()


sys.exit(main())
