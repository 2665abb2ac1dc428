# Shell functions the benchmark scripts share (sourced, not run): loopback
# ports for the servers they start, and waiting for those to listen.

# A loopback port nobody listens on (ports are only probed, so a race with
# another process is possible but harmless: the server would fail to start).
# Below the kernel's ephemeral range (32768 up), where a busy client's own
# connections would make bind() fail on a port nobody listens on.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# wait_port PID PORT: 0 once PORT accepts, 1 (and a log line) if PID died
# or 15 s passed; the caller defines log().
wait_port() {
    local pid=$1 port=$2
    for _ in $(seq 1 150); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "$(basename "$0"): server $pid did not listen on $port"
    return 1
}

# wait_socket PID PATH: the same for a unix-domain socket (the file exists
# and is a socket; the servers create it only once they listen).
wait_socket() {
    local pid=$1 path=$2
    for _ in $(seq 1 150); do
        [ -S "$path" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "$(basename "$0"): server $pid did not listen on $path"
    return 1
}
