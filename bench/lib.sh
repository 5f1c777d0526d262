# bench/lib.sh — shared by bench/kv.sh and bench/catalog.sh (sourced after
# WORK, PIDS and say() are set): cleanup on exit of the processes this
# script started (by PID, only its own children) and of WORK, and
# free_port, a random free TCP+UDP port below the ephemeral range.
# shellcheck shell=bash
cleanup() {
    local p
    local live=()
    for p in "${PIDS[@]}"; do   # only our own children (never a reused PID)
        [ "$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)" = "$$" ] && live+=("$p")
    done
    for p in "${live[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${live[@]}"; do
        for _ in $(seq 1 100); do
            [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" = Z ] && break
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then say "bench: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A USED
free_port() {
    local p lo span=40000
    # below the ephemeral range when there is room for it
    lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    [[ $lo =~ ^[0-9]+$ ]] && [ "$lo" -ge 25000 ] && span=$(( lo - 20000 ))
    for _ in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % span ))
        [ -n "${USED[$p]:-}" ] && continue
        ss -Htan "sport = :$p" | grep -q . && continue
        ss -Huan "sport = :$p" | grep -q . && continue
        USED[$p]=1
        echo "$p"
        return 0
    done
    return 1
}
