#!/bin/sh
# map.t - `postern map` end to end: build, query, list, exit codes and messages per table type
set -u
P="$BUILD/bin/postern"
D=$(mktemp -d "${TMPDIR:-/tmp}/postern-map.XXXXXX")
trap 'rm -rf "$D"' EXIT
n=0
fail=0

# check DESCRIPTION WANT_RC WANT_OUT WANT_ERR_PART -- command...: run, compare rc, stdout, stderr
check() {
    desc=$1 want_rc=$2 want_out=$3 want_err=$4
    shift 5
    out=$("$@" 2>"$D/err")
    rc=$?
    n=$((n + 1))
    if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ] &&
        { [ -z "$want_err" ] || grep -qF -- "$want_err" "$D/err"; }; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc"
        echo "#   rc=$rc (want $want_rc) out='$out' (want '$want_out')"
        sed 's/^/#   stderr: /' "$D/err"
        fail=1
    fi
}

printf 'Alice  alice@example.org\nbob    bob@example.org,\n  carol@example.org\n' >"$D/aliases"
check "build a bare file as lmdb" 0 "" "" -- "$P" map "$D/aliases"
check "query lmdb" 0 "alice@example.org" "" -- "$P" map -q alice "$D/aliases"
check "keys fold to lower case" 0 "alice@example.org" "" -- "$P" map -q ALICE "lmdb:$D/aliases"
check "hash: reads the same file" 0 "bob@example.org, carol@example.org" "" -- \
    "$P" map -q bob "hash:$D/aliases"
check "not found is exit 1" 1 "" "" -- "$P" map -q nobody "$D/aliases"
check "-s lists every entry" 0 "$(printf 'alice\talice@example.org\nbob\tbob@example.org, carol@example.org')" "" -- \
    "$P" map -s "$D/aliases"
check "-q - reads keys from stdin" 0 "$(printf 'bob\tbob@example.org, carol@example.org\nalice\talice@example.org')" "" -- \
    sh -c "printf 'bob\nnobody\n\nalice\n' | '$P' map -q - '$D/aliases'"
check "-q - with nothing found is exit 1" 1 "" "" -- \
    sh -c "printf 'x\ny\n' | '$P' map -q - '$D/aliases'"
check "the first table that has the key wins" 0 "from inline" "" -- \
    "$P" map -q alice "inline:{ {alice=from inline} }" "$D/aliases"
check "a build leaves no temporary file" 0 "aliases aliases.lmdb err" "" -- \
    sh -c "cd '$D' && echo *"

printf 'Alice alice@example.org\n' >"$D/nofold"
check "-f keeps the case when building" 0 "" "" -- "$P" map -f "$D/nofold"
check "-f keeps the case when querying" 0 "alice@example.org" "" -- "$P" map -f -q Alice "$D/nofold"
check "... and another case is not found" 1 "" "" -- "$P" map -f -q alice "$D/nofold"

printf 'good value\nbroken\n' >"$D/bad"
check "a malformed source names file and line" 2 "" "$D/bad, line 2: expected \"key value\"" -- \
    "$P" map "$D/bad"
check "a table that was never built" 2 "" "is not built: run \"postern map lmdb:$D/bad\"" -- \
    "$P" map -q good "$D/bad"
check "a missing file" 2 "" "open $D/none.lmdb: No such file or directory" -- \
    "$P" map -q x "$D/none"
check "an unknown type" 2 "" "unknown table type \"bogus\"" -- "$P" map -q x "bogus:$D/aliases"
check "a type that is not built" 2 "" "nothing to build" -- "$P" map "pcre:$D/aliases"

head -c 8192 "$D/aliases.lmdb" >"$D/trunc.lmdb"
: >"$D/trunc"
check "a truncated database" 2 "" "trunc.lmdb is truncated or corrupt" -- "$P" map -q x "$D/trunc"

check "texthash" 0 "alice@example.org" "" -- "$P" map -q alice "texthash:$D/aliases"
check "texthash -s" 0 "$(printf 'alice\talice@example.org\nbob\tbob@example.org, carol@example.org')" "" -- \
    "$P" map -s "texthash:$D/aliases"
check "inline" 0 "two words" "" -- "$P" map -q b "inline:{ a=1, { b = two words } }"
check "inline with unbalanced braces" 2 "" "unbalanced" -- "$P" map -q b "inline:{ a=1"
check "static" 0 "REJECT go away" "" -- "$P" map -q anything "static:{ REJECT go away }"
check "static cannot be listed" 2 "" "cannot list" -- "$P" map -s "static:x"

printf '/^(.*)@example\\.com$/ local:$1\n' >"$D/t.pcre"
check "pcre with a substitution" 0 "local:Joe" "" -- "$P" map -q Joe@EXAMPLE.com "pcre:$D/t.pcre"
check "pcre without a match" 1 "" "" -- "$P" map -q joe@example.org "pcre:$D/t.pcre"
printf '/a(/ x\n' >"$D/bad.pcre"
check "pcre syntax error" 2 "" "$D/bad.pcre, line 1: error in pattern" -- \
    "$P" map -q a "pcre:$D/bad.pcre"

printf '192.0.2.0/24 OK\n[2001:db8::]/32 v6\n' >"$D/t.cidr"
check "cidr v4" 0 "OK" "" -- "$P" map -q 192.0.2.9 "cidr:$D/t.cidr"
check "cidr v6" 0 "v6" "" -- "$P" map -q 2001:db8::5 "cidr:$D/t.cidr"
check "cidr miss" 1 "" "" -- "$P" map -q 198.51.100.1 "cidr:$D/t.cidr"
printf '192.0.2.1/24 OK\n' >"$D/bad.cidr"
check "cidr host bits" 2 "" "$D/bad.cidr, line 1: 192.0.2.1/24 has host bits set" -- \
    "$P" map -q 192.0.2.1 "cidr:$D/bad.cidr"

check "unionmap" 0 "from inline,alice@example.org" "" -- \
    "$P" map -q alice "unionmap:{ inline:{ {alice=from inline} }, lmdb:$D/aliases }"

check "-c needs a main.cf there" 2 "" "main.cf: No such file" -- "$P" map -c "$D" -q a "inline:{a=1}"
mkdir "$D/etc"
printf 'default_database_type = texthash\n' >"$D/etc/main.cf"
printf 'plain text\n' >"$D/plain"
check "-c main.cf's default_database_type types a bare file" 0 "text" "" -- \
    "$P" map -c "$D/etc" -q plain "$D/plain"
check "-c with no such directory" 2 "" "not a directory" -- "$P" map -c "$D/nope" -q a "inline:{a=1}"
check "no table is a usage error" 2 "" "usage: postern map" -- "$P" map -q x
check "-q and -s together is a usage error" 2 "" "usage: postern map" -- "$P" map -q x -s "$D/aliases"

# aliases(5) sources: postern alias (postalias), postern newaliases, the compatibility names
printf '# system aliases\nPostmaster: root\nroot:  admin, "|/usr/bin/logger x"\n  , other@example.org\n"a b": x\n' >"$D/etc/aliases"
check "alias builds an aliases(5) source" 0 "" "" -- "$P" alias "$D/etc/aliases"
check "alias: name folded, value after the colon" 0 "root" "" -- "$P" alias -q postmaster "$D/etc/aliases"
check "alias: continuation lines join the value" 0 'admin, "|/usr/bin/logger x" , other@example.org' "" -- \
    "$P" alias -q root "$D/etc/aliases"
check "alias: a quoted name may hold a space" 0 "x" "" -- "$P" map -q "a b" "lmdb:$D/etc/aliases"
printf 'no colon here\n' >"$D/badalias"
check "alias: a line without a colon is named" 2 "" "badalias, line 1: expected \"name: value\"" -- \
    "$P" alias "$D/badalias"
printf 'x:\n' >"$D/badalias"
check "alias: a name without a value is named" 2 "" "line 1: no value for \"x\"" -- "$P" alias "$D/badalias"
printf 'alias_database = lmdb:%s/etc/aliases\n' "$D" >"$D/etc/main.cf"
rm -f "$D/etc/aliases.lmdb"
check "newaliases builds every alias_database table" 0 "root" "" -- \
    sh -c "'$P' newaliases -c '$D/etc' && '$P' map -q postmaster '$D/etc/aliases'"
ln -s "$P" "$D/newaliases"
rm -f "$D/etc/aliases.lmdb"
check "installed as newaliases, it is newaliases" 0 "root" "" -- \
    sh -c "'$D/newaliases' -c '$D/etc' && '$P' map -q postmaster '$D/etc/aliases'"
check "newaliases takes no table names" 2 "" "usage: postern newaliases" -- "$P" newaliases x

echo "1..$n"
exit $fail
