# Sourced by the sim tests that kill a client mid-flash (not a test itself: no t prefix).
#
# The limitation this works around: after a process running under the virtual USB bus
# (omvdev-sim, i.e. libumockdev-preload) is killed with a signal it cannot handle
# (kill -9), umockdev's ioctl server keeps the dead client's stream, and the NEXT process
# started on the same bus often aborts inside libumockdev-preload
# ("Error communicating with ioctl socket, received EOF", exit 134) - in about one run
# in six here (umockdev 0.17, Debian 12). The cause is in umockdev, not in omvdev.
#
# So each kill case gets a bus of its own, and the killed client is the last process
# started on it: kill_mid_flash starts omvdev-sim, runs the client there, waits (with
# bash builtins only) until the client reports writing, sends the signal, waits for it,
# and ends the bus. The device's memory is then in $STATE/<serial>/, and whatever
# checks the camera afterwards runs on a new bus (load=FILE@ADDR), never on that one.
#
#   kill_mid_flash SIGNAL STATE DEVICE-SPEC PATTERN -- OMVDEV-ARGS...
#
# PATTERN is a glob matched against each line the client writes to stderr (run it with
# -v so it prints progress lines); the signal goes when one matches. Sets $killed_code
# (the client's exit status) and leaves the client's stderr in $err.

kill_mid_flash() {
    local sig=$1 state=$2 spec=$3 pattern=$4
    shift 5
    rm -f "$TMPD/kill.fifo"
    mkfifo "$TMPD/kill.fifo"
    # Everything after the kill in the inner shell is a builtin: no new process on this bus.
    timeout 120 "$OMVDEV_SIM" --device "$spec" --state "$state" --timescale 0.2 -- bash -c '
        sig=$1 pattern=$2 fifo=$3 log=$4
        shift 4
        "$@" 2>"$fifo" &
        pid=$!
        exec 3<"$fifo"
        while IFS= read -r line <&3; do
            printf "%s\n" "$line" >>"$log"
            case $line in $pattern) kill -s "$sig" "$pid"; break ;; esac
        done
        while IFS= read -r line <&3; do printf "%s\n" "$line" >>"$log"; done
        wait "$pid"
        echo "$?" >>"$log.code"
    ' kill "$sig" "$pattern" "$TMPD/kill.fifo" "$err" "$@" >"$out" 2>"$TMPD/sim.err"
    code=$?
    killed_code=$(cat "$err.code" 2>/dev/null)
    rm -f "$err.code" "$TMPD/kill.fifo"
}
