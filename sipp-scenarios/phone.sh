#!/bin/sh
# phone.sh: the phone that a VoIP push wakes, for the push sink's --on-push hook. From the
# repository root:
#
#   node dist/lib/cli.js push-sink --key-dir .pushwake/sink --on-push "sipp-scenarios/phone.sh {token} {pushHint}"
#
# Each push starts device-wake.xml with the push's token and hint (the sink quotes them). What
# the phone then does with pushwake's INVITE is read per push from sipp-scenarios/phone-mode
# (one word; no file means answer), so one running sink serves every case:
#   answer | decline | busy   device-wake-answer.xml / -decline.xml / -busy.xml, woken at once
#   late                      device-late-wake.xml, woken 3 s after the push: after the call ended
#   off                       no phone wakes (pushwake's wake timeout ends the call with 480)
# e.g.  echo busy > sipp-scenarios/phone-mode
#
# Settings, from the sink's environment: SIPP (the sipp binary; default SIPP_BIN, else sipp),
# PUSHWAKE_SIP (pushwake's SIP address; default 127.0.0.1:5060), PHONE_TRANSPORT (u1, t1 or l1;
# default u1), PHONE_MODE (overrides the phone-mode file), PHONE_LOG_DIR (default
# sipp-scenarios/logs). Each phone's SIPp output goes to phone-<pid>.log there; one line per push
# says how it went (exit code 0: the call went as the scenario expects).
# SIP over TLS: PHONE_TRANSPORT=l1, PUSHWAKE_SIP=pushwake's TLS address (e.g. 127.0.0.1:5061),
# and PHONE_TLS_CERT / PHONE_TLS_KEY naming a PEM certificate and key for SIPp (any; SIPp does
# not start TLS without them and does not verify pushwake's certificate). See docs/sipp.md.
set -u
token=$1
hint=$2
here=$(cd "$(dirname "$0")" && pwd)
mode=${PHONE_MODE:-$(cat "$here/phone-mode" 2>/dev/null || echo answer)}
logs=${PHONE_LOG_DIR:-$here/logs}
sipp=${SIPP:-${SIPP_BIN:-sipp}}
delay=0
case $mode in
  answer | decline | busy) role=device-wake-$mode.xml ;;
  late) role=device-late-wake.xml; delay=3 ;;
  off) echo "phone ${token%"${token#????????}"}...: mode off, not waking"; exit 0 ;;
  *) echo "phone.sh: unknown mode '$mode' in $here/phone-mode" >&2; exit 2 ;;
esac
transport=${PHONE_TRANSPORT:-u1}
set --
case $transport in
  l1 | ln)
    if [ -z "${PHONE_TLS_CERT:-}" ] || [ -z "${PHONE_TLS_KEY:-}" ]; then
      echo "phone.sh: PHONE_TRANSPORT=$transport (TLS) needs PHONE_TLS_CERT and PHONE_TLS_KEY" >&2
      exit 2
    fi
    set -- -tls_cert "$PHONE_TLS_CERT" -tls_key "$PHONE_TLS_KEY" ;;
esac
mkdir -p "$logs"
log=$logs/phone-$$.log
sleep "$delay"
cd "$here" || exit 2
"$sipp" "${PUSHWAKE_SIP:-127.0.0.1:5060}" -sf device-wake.xml -oocsf "$role" \
  -inf users.csv -infindex users.csv 2 -key token "$token" -key hint "$hint" \
  -i 127.0.0.1 -t "$transport" "$@" -m 1 -nostdin -timeout 20s -timeout_error \
  -trace_err -error_file "$logs/phone-$$-errors.log" >"$log" 2>&1
code=$?
echo "phone ${token%"${token#????????}"}... $mode: sipp exit $code (log $log)"
exit $code
