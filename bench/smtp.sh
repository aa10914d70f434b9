#!/bin/sh
# bench/smtp.sh — mail accepted and durably delivered per second: atto's SMTP
# server beside a throwaway Postfix on loopback, both delivering into a
# Maildir, driven by Postfix's smtp-source at the same concurrency.
#
#   atto      the 250 after DATA comes only once the message is fsync'ed into
#             mail/alice/new/, so "accepted" and "delivered" are one number
#   postfix   the 250 comes once the queue file is fsync'ed; the virtual(8)
#             agent then writes the Maildir copy. Two numbers: accepted/s
#             (smtp-source finished) and delivered/s (every copy in new/)
#
# For each message size (1 KB and 100 KB by default) smtp-source sends N
# messages over S concurrent sessions, one message per SMTP session (its
# default), and the script counts the files in new/ to check that every
# message arrived. Prints one table with atto/postfix ratios.
#
#   ATTO=./atto S=20 N1=2000 N100=500 REPEAT=3 PEER=postfix bench/smtp.sh
#   PEER=none bench/smtp.sh          atto only
#
# Needs smtp-source and postfix (the Debian postfix package: tools/deps.sh
# bench). The system Postfix is never started: the peer is a separate
# instance (its own config, spool and port in a temporary folder, bound to
# 127.0.0.1) that is stopped on exit, whatever the exit.
set -eu
cd "$(dirname "$0")/.."
ATTO=${ATTO:-./atto}
S=${S:-20}
N1=${N1:-2000}
N100=${N100:-500}
REPEAT=${REPEAT:-3}
PEER=${PEER:-postfix}
SOURCE=${SOURCE:-/usr/sbin/smtp-source}

for tool in "$SOURCE" "$ATTO"; do
    [ -x "$tool" ] || { echo "bench/smtp.sh: $tool not found (tools/deps.sh bench; make atto)" >&2; exit 1; }
done
if [ "$PEER" = postfix ] && ! command -v postfix >/dev/null 2>&1; then
    echo "bench/smtp.sh: postfix not installed, running atto alone (PEER=none)" >&2; PEER=none
fi

tmp=$(mktemp -d /tmp/atto-bench-smtp.XXXXXX)
chmod 755 "$tmp"
atto_pid= pf_started=
cleanup() {
    [ -n "$atto_pid" ] && kill "$atto_pid" 2>/dev/null && wait "$atto_pid" 2>/dev/null
    [ -n "$pf_started" ] && postfix -c "$tmp/pf/etc" stop >/dev/null 2>&1
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    i=0
    while ! /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 100 ] && { echo "bench/smtp.sh: nothing listens on $1" >&2; exit 1; }
        sleep 0.1
    done
}
now() { date +%s.%N; }
count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
# wait_count DIR N: until DIR holds N files (60 s at most)
wait_count() {
    i=0
    while [ "$(count "$1")" -lt "$2" ]; do
        i=$((i + 1)); [ $i -gt 6000 ] && { echo "bench/smtp.sh: only $(count "$1") of $2 messages in $1" >&2; exit 1; }
        sleep 0.01
    done
}
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
best() { printf '%s\n' "$@" | sort -n | tail -1; }

# -- atto ------------------------------------------------------------------
site=$tmp/site
mkdir -p "$site"
printf 'mail.domains{ "example.test" }\nmail.options{ max_message_size = 10 * 1024 * 1024 }\n' > "$site/mail.lua"
echo bench-password | "$ATTO" passwd "$site" alice >/dev/null 2>&1
aport=$(free_port)
"$ATTO" "$site" --http 0 --https 0 --submission 0 --imap 0 --pop3 0 --gopher 0 --smtp "$aport" \
    >"$tmp/atto.log" 2>&1 &
atto_pid=$!
wait_port "$aport"

# -- postfix, a throwaway instance -----------------------------------------
pport=
if [ "$PEER" = postfix ]; then
    pf=$tmp/pf
    pport=$(free_port)
    mkdir -p "$pf/etc" "$pf/spool" "$pf/data" "$pf/mail"
    chown postfix "$pf/data"
    chown nobody "$pf/mail"
    sed -E "s/^smtp +inet .*/127.0.0.1:$pport inet n - n - - smtpd/" /etc/postfix/master.cf > "$pf/etc/master.cf"
    cat > "$pf/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/spool
data_directory = $pf/data
maillog_file = $pf/data/maillog
maillog_file_prefixes = $pf
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.localdomain
mydestination =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = example.test
virtual_mailbox_base = $pf/mail
virtual_mailbox_maps = static:alice/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
smtpd_client_connection_rate_limit = 0
message_size_limit = 10485760
default_process_limit = 100
biff = no
EOF
    postfix -c "$pf/etc" start >"$pf/start.log" 2>&1 || { echo "bench/smtp.sh: postfix did not start:" >&2; cat "$pf/start.log" "$pf/data/maillog" >&2 2>/dev/null; exit 1; }
    pf_started=1
    wait_port "$pport"
fi

# run NAME PORT NEWDIR SIZE N -> sets acc (accepted/s) and del (delivered/s)
run() {
    before=$(count "$3")
    t0=$(now)
    "$SOURCE" -s "$S" -m "$5" -l "$4" -f bench@other.test -t alice@example.test "127.0.0.1:$2"
    t1=$(now)
    wait_count "$3" $((before + $5))
    t2=$(now)
    acc=$(rate "$5" "$t0" "$t1")
    del=$(rate "$5" "$t0" "$t2")
}

echo "bench/smtp.sh: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); smtp-source -s $S, best of $REPEAT"
printf '\n| size | messages | atto msg/s (accepted = durable) | postfix accepted/s | postfix delivered/s | atto/postfix (delivered) |\n'
printf '|---|---|---|---|---|---|\n'
for spec in "1024 $N1 1 KB" "102400 $N100 100 KB"; do
    set -- $spec
    size=$1 n=$2 label="$3 $4"
    "$SOURCE" -s "$S" -m 50 -l "$size" -f warm@other.test -t alice@example.test "127.0.0.1:$aport"   # warm-up
    a_all= pa_all= pd_all=
    r=0
    while [ $r -lt "$REPEAT" ]; do
        run atto "$aport" "$site/mail/alice/new" "$size" "$n"
        a_all="$a_all $del"
        if [ -n "$pport" ]; then
            run postfix "$pport" "$pf/mail/alice/new" "$size" "$n"
            pa_all="$pa_all $acc"; pd_all="$pd_all $del"
        fi
        r=$((r + 1))
    done
    a=$(best $a_all)
    if [ -n "$pport" ]; then
        pa=$(best $pa_all); pd=$(best $pd_all)
        ratio=$(awk -v a="$a" -v b="$pd" 'BEGIN { printf "%.2f", a / b }')
        printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$n" "$a" "$pa" "$pd" "$ratio"
    else
        printf '| %s | %s | %s | - | - | - |\n' "$label" "$n" "$a"
    fi
done
echo
echo "atto: every 250 is a message fsync'ed into new/ (tmp -> fsync -> link -> fsync new/)."
[ -n "$pport" ] && echo "postfix 3 peer: smtpd -> cleanup (queue file fsync'ed before 250) -> virtual(8) into Maildir."
if grep -qiE 'error|sanitizer' "$tmp/atto.log"; then echo "atto log:"; cat "$tmp/atto.log"; exit 1; fi
exit 0
