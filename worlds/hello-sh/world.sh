# hello World in POSIX sh: guess the number (docs/protocol.md, "The hello game").
. "${WWM_SERVER_DIR:-${0%/*}}/wwm.sh"

x=1 secret=0 low=1 high=100 hits=0 steps=0

new_secret() {
    x=$(((x * 75 + 74) % 65537))
    secret=$((x % 100 + 1))
}

start() {                   # $1 = seed (an integer)
    x=$(($1 % 65537))
    if [ "$x" -lt 0 ]; then x=$((x + 65537)); fi
    new_secret
    printf 'low: %s\nhigh: %s\n' "$low" "$high"
}

step() {                    # $1 = the action text
    steps=$((steps + 1))
    WWM_REWARD=0
    if ! wwm_int "$1"; then
        WWM_REWARD=-1       # not an integer: state unchanged
    elif [ "$WWM_INT" -eq "$secret" ]; then
        WWM_REWARD=1 hits=$((hits + 1)) low=1 high=100
        new_secret
    elif [ "$WWM_INT" -lt "$secret" ]; then
        low=$((WWM_INT + 1))
    else
        high=$((WWM_INT - 1))
    fi
    printf 'low: %s\nhigh: %s\n' "$low" "$high"
}

score() {
    printf '%s\nsteps: %s\n' "$hits" "$steps"
}

wwm_serve_world start step score
