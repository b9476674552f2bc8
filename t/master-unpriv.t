#!/bin/sh
# master-unpriv.t - master.t again as an ordinary user: development mode, every process runs
# as that user. As root, it runs master.t as the test user; as anyone else, master.t itself
# already covers this case.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP not root: t/master.t runs unprivileged already"
	exit 0
fi
id postern-test >/dev/null 2>&1 ||
	useradd -r -M -d /nonexistent -s /usr/sbin/nologin postern-test
if ! runuser -u postern-test -- test -x "$BUILD/bin/postern" -a -r "$here/master.t"; then
	echo "1..0 # SKIP the test user cannot reach $BUILD"
	exit 0
fi
exec runuser -u postern-test -- env BUILD="$BUILD" TMPDIR=/tmp /usr/bin/python3 "$here/master.t"
