"""tap.py - a few lines of Test Anything Protocol for the Python integration tests."""
import sys


class TAP:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name), flush=True)
        return cond

    def is_eq(self, got, want, name):
        good = self.ok(got == want, name)
        if not good:
            self.diag("     got: %r" % (got,))
            self.diag("expected: %r" % (want,))
        return good

    def like(self, got, part, name):
        """Passes when part (a string) occurs in got."""
        good = self.ok(part in got, name)
        if not good:
            self.diag("     got: %r" % (got[-2000:],))
            self.diag("wanted a part: %r" % (part,))
        return good

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line, file=sys.stderr, flush=True)

    def skip_all(self, why):
        print("1..0 # SKIP " + why, flush=True)
        sys.exit(0)

    def bail_out(self, why):
        print("Bail out! " + why, flush=True)
        sys.exit(255)

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0
