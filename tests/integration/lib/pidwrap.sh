#!/bin/sh
# pidwrap.sh PIDFILE COMMAND [ARG...]: appends this process's pid to PIDFILE
# and execs COMMAND in its place, so PIDFILE names the upstream's pid for a
# test that wants to kill it.  Run it as "sh pidwrap.sh ...".
pidfile=$1
shift
echo $$ >>"$pidfile"
exec "$@"
