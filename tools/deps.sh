#!/bin/sh
# deps.sh — install what atto needs on Debian 12, and nothing it already has.
#
#   tools/deps.sh build   build dependencies (compiler, OpenSSL, Lua, libuv, cjson)
#   tools/deps.sh test    the above plus the real clients the tests drive
#   tools/deps.sh bench   the above plus the servers and load tools of `make bench`
#
# As root it runs `apt-get update` once and installs the missing packages.
# As anyone else it prints the one apt-get line to run and exits 1.
set -e
BUILD="build-essential pkg-config libssl-dev liblua5.4-dev libuv1-dev lua-cjson libcrypt-dev"
TEST="$BUILD clang libclang-rt-14-dev xz-utils curl python3 python3-h2 python3-hpack nghttp2-client swaks openssl netcat-openbsd procps libnghttp2-dev lynx mutt fetchmail"
BENCH="$TEST wrk nghttp2-client nginx-light h2o apache2-utils testssl.sh dovecot-imapd dovecot-pop3d postfix"
case "${1:-build}" in
  build) want=$BUILD ;;
  test)  want=$TEST ;;
  bench) want=$BENCH ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "atto needs these Debian packages; run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
