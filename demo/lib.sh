# shellcheck shell=bash
# Helpers shared by demo/run and demo/stop (sourced, not run).
#
# The demo keeps everything under one state directory (build/demo by
# default):
#
#   demo.env                ports and paths of the running demo
#   redis/                  redis.pid, redis.log (no persistence)
#   controller.pid          controller.log
#   controller/             the controller's state directory: one
#                           <replica id>.replica record per replica, and
#                           logs/<replica id>.log
#   nginx/                  prefix: nginx.conf, nginx.pid, logs/, temp/
#
# Processes are only ever signalled by the pids recorded there, after
# checking that the pid still is the process the demo started.


# proc_field PID N: field N of /proc/PID/stat (1-based, as in proc(5)),
# read after the command name, which may hold spaces.
proc_field() {
    local stat rest n=$2
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest                       # $1 is field 3, the state
    [ "$n" -ge 3 ] && [ "$#" -ge $((n - 2)) ] || return 1
    shift $((n - 3))
    printf '%s\n' "$1"
}


# alive PID: the process exists and is not a zombie.
alive() {
    local state
    [ -n "${1:-}" ] || return 1
    state=$(proc_field "$1" 3) || return 1
    [ "$state" != Z ]
}


# cmdline_has PID TEXT: PID's command line contains TEXT.
cmdline_has() {
    [ -r "/proc/$1/cmdline" ] || return 1
    tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "$2"
}


# read_pid FILE: the number in FILE, or nothing.
read_pid() {
    local pid
    [ -r "$1" ] || return 0
    pid=$(tr -dc '0-9' < "$1")
    [ -n "$pid" ] && printf '%s\n' "$pid"
    return 0
}


# wait_gone PID SECONDS: waits for PID to end; 1 if it still runs.
wait_gone() {
    local pid=$1 tenths=$(($2 * 10))
    while alive "$pid"; do
        [ "$tenths" -gt 0 ] || return 1
        sleep 0.1
        tenths=$((tenths - 1))
    done
    return 0
}


# port_free PORT [strict]: a bind to 127.0.0.1:PORT succeeds, with
# SO_REUSEADDR as nginx and redis-server bind their ports, or, "strict",
# without it, as faas-controller checks its replica ports: then a port that
# still has connections in TIME_WAIT (a demo stopped a moment ago) is not
# free either.
port_free() {
    perl -MIO::Socket::INET -e '
        exit(IO::Socket::INET->new(LocalAddr => "127.0.0.1",
                                   LocalPort => $ARGV[0], Proto => "tcp",
                                   ReuseAddr => $ARGV[1] ne "strict",
                                   Listen => 1) ? 0 : 1)' "$1" "${2:-}"
}


# first_free_port LO HI: the first free port in [LO, HI].
first_free_port() {
    local p
    for ((p = $1; p <= $2; p++)); do
        if port_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}


# free_block LO HI SIZE: the first block of SIZE strictly free ports in
# [LO, HI], as "A-B".
free_block() {
    local lo=$1 hi=$2 size=$3 a p ok
    for ((a = lo; a + size - 1 <= hi; a += size)); do
        ok=1
        for ((p = a; p < a + size; p++)); do
            port_free "$p" strict || { ok=0; break; }
        done
        if [ "$ok" = 1 ]; then
            echo "$a-$((a + size - 1))"
            return 0
        fi
    done
    return 1
}
