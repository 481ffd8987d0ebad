#!/usr/bin/env bash
# Fetches the regression captures that ship in Debian's tcpdump and wireshark
# source packages (about 800 files: fuzzed and truncated packets from tcpdump's
# suite, Wireshark's protocol and Wi-Fi decryption captures) into
# ${SNIFFWATCH_DEBIAN_CAPTURES:-~/.cache/sniffwatch/debian-captures}, for
# test/conformance/debian-captures.test.ts. The system's apt configuration is
# not changed: a private source list and package lists are used.
set -euo pipefail

DEST="${SNIFFWATCH_DEBIAN_CAPTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/sniffwatch/debian-captures}"
if [ -f "$DEST/.complete" ]; then
  echo "debian captures already in $DEST"
  exit 0
fi
command -v apt-get >/dev/null || { echo "fetch-debian-captures: apt-get not found (Debian only)" >&2; exit 1; }
. /etc/os-release
SUITE="${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/src"
cat >"$WORK/sources.list" <<LIST
deb-src http://deb.debian.org/debian $SUITE main
deb-src http://deb.debian.org/debian-security $SUITE-security main
LIST
APT=(apt-get -qq -o "Dir::Etc::SourceList=$WORK/sources.list" -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::State::Lists=$WORK/lists" -o "APT::Sandbox::User=root")
"${APT[@]}" update
(cd "$WORK/src" && "${APT[@]}" source --download-only tcpdump wireshark)

rm -rf "$DEST"
mkdir -p "$DEST/tcpdump" "$DEST/wireshark"
# The upstream tarball, not its detached signature (.asc) beside it.
orig() { find "$WORK/src" -maxdepth 1 -name "$1_*.orig.tar.*" ! -name '*.asc' | head -n 1; }
tar -xf "$(orig tcpdump)" -C "$DEST/tcpdump" --strip-components=2 --wildcards '*/tests/*.pcap' '*/tests/*.pcapng'
tar -xf "$(orig wireshark)" -C "$DEST/wireshark" --strip-components=3 --wildcards '*/test/captures/*'
ls "$WORK"/src/*.dsc | xargs -n1 basename >"$DEST/.complete"
echo "debian captures in $DEST: $(find "$DEST" -type f ! -name .complete | wc -l) files"
