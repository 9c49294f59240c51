# wwm.sh -- the World-Wide-Mind file protocol for POSIX sh (dash, bash, ash).
#
# Usage (a Mind; the action is what the function prints):
#   . "$WWM_SERVER_DIR/wwm.sh"
#   act() {                       # $1 = the state text
#       printf '%s\n' 50
#   }
#   wwm_serve_mind act
#
# A World:  wwm_serve_world START STEP SCORE   (see below; worlds/hello-sh/world.sh)
#
# API (names are files in the working directory = the run directory):
#   wwm_wait NAME        block until NAME exists; exit 0 as soon as `stop` exists
#   wwm_take NAME        read NAME into $WWM_MSG (byte-exact except NUL), then delete it
#   wwm_put NAME TEXT    write TEXT to NAME.tmp, then rename it to NAME (atomic)
#   wwm_int TEXT         if TEXT is an integer (optional sign, digits, surrounding
#                        whitespace, |n| < 10^9) set $WWM_INT and return 0, else 1
#   wwm_serve_mind ACT   loop: state -> `ACT "$state"` (its stdout) -> action
#   wwm_serve_world START STEP SCORE
#       START SEED       print the first state
#       STEP ACTION      print the next state (without the reward line); set
#                        WWM_REWARD (e.g. 1, 0.5, -1) and WWM_DONE=1 when the run ends
#       SCORE            print the score file's contents
#     The helper adds the `reward: R` line (or <reward> element for XML) and writes
#     score, then done, then state last.
#
# Callbacks run in the current shell (stdout redirected, no subshell), so they
# may keep state in ordinary variables between calls.
#
# Waiting: `test -e` polling with short sleeps (fast while messages are flowing);
# after ~0.1 s idle it blocks in `inotifywait` (inotify-tools) when installed,
# else keeps polling every 10 ms. Each sleep is one fork of /bin/sleep; dash's
# (GNU/busybox) sleep accepts fractions. SIGTERM/SIGINT/SIGHUP exit 0.

_wwm_n=0      # empty checks since the last activity; picks the nap length
_wwm_pid=     # pid of a background inotifywait we are waiting on, if any
_wwm_nl='
'
command -v inotifywait >/dev/null 2>&1 && _wwm_inotify=1 || _wwm_inotify=

_wwm_bye() {
    [ -n "$_wwm_pid" ] && kill "$_wwm_pid" 2>/dev/null
    exit 0
}
trap _wwm_bye TERM INT HUP

# One nap between two checks: 1 ms x10, 5 ms x20, then idle mode.
_wwm_nap() {
    _wwm_n=$((_wwm_n + 1))
    if [ "$_wwm_n" -le 10 ]; then sleep 0.001; return; fi
    if [ "$_wwm_n" -le 30 ]; then sleep 0.005; return; fi
    # Idle: the run directory may have been removed under us (run reaped).
    if [ -n "$WWM_RUN_DIR" ] && [ ! -d "$WWM_RUN_DIR" ]; then exit 0; fi
    if [ -z "$_wwm_inotify" ]; then sleep 0.01; return; fi
    # Block until something is created in the directory (or 1 s passes). Run it
    # in the background and `wait`, so a trapped SIGTERM interrupts the wait.
    # inotifywait needs a moment to set its watch; a file that appears in that
    # window is caught by the re-check below, or else by the 1 s timeout.
    inotifywait -qq -t 1 -e create -e moved_to -e delete_self . 2>/dev/null &
    _wwm_pid=$!
    sleep 0.005
    if [ -e stop ] || [ -e "$1" ]; then
        kill "$_wwm_pid" 2>/dev/null
        wait "$_wwm_pid" 2>/dev/null
        _wwm_pid=
        return
    fi
    wait "$_wwm_pid" && _wwm_n=0   # an event: back to fast polling
    _wwm_pid=
}

wwm_wait() {
    _wwm_n=0
    while :; do
        [ -e stop ] && exit 0
        [ -e "$1" ] && return 0
        _wwm_nap "$1"
    done
}

# Builtin `read` only (no cat fork); a last line without "\n" is kept as is.
wwm_take() {
    WWM_MSG=
    [ -e "$1" ] || return 1
    while :; do
        if IFS= read -r _wwm_l; then
            WWM_MSG="$WWM_MSG$_wwm_l$_wwm_nl"
        else
            WWM_MSG="$WWM_MSG$_wwm_l"
            break
        fi
    done < "$1"
    rm -f -- "$1"
}

wwm_put() {
    printf '%s' "$2" > "$1.tmp" && mv -f -- "$1.tmp" "$1"
}

wwm_int() {
    _wwm_t=$1
    _wwm_t=${_wwm_t#"${_wwm_t%%[![:space:]]*}"}     # trim leading whitespace
    _wwm_t=${_wwm_t%"${_wwm_t##*[![:space:]]}"}     # trim trailing whitespace
    _wwm_s=
    case $_wwm_t in [-+]*) _wwm_s=${_wwm_t%"${_wwm_t#?}"}; _wwm_t=${_wwm_t#?} ;; esac
    case $_wwm_t in '' | *[!0-9]*) return 1 ;; esac
    while :; do case $_wwm_t in 0?*) _wwm_t=${_wwm_t#0} ;; *) break ;; esac; done  # 010 is not octal
    [ ${#_wwm_t} -le 9 ] || return 1
    WWM_INT=$((${_wwm_s}$_wwm_t))
}

wwm_serve_mind() {
    while :; do
        wwm_wait state
        wwm_take state || continue
        "$1" "$WWM_MSG" > action.tmp
        mv -f action.tmp action
    done
}

# Prefix $WWM_MSG (the state body) with the reward: a first line for text, a
# first child element for XML (inserted after the root's start tag).
_wwm_embed_reward() {
    case $WWM_MSG in
    '<'*)
        _wwm_h=${WWM_MSG%%'>'*} _wwm_r=${WWM_MSG#*'>'}
        case $_wwm_h in
        */) _wwm_h=${_wwm_h%/} _wwm_e=${_wwm_h#<}; _wwm_e=${_wwm_e%%[[:space:]]*}
            WWM_MSG="$_wwm_h><reward>$WWM_REWARD</reward></$_wwm_e>$_wwm_r" ;;
        *)  WWM_MSG="$_wwm_h><reward>$WWM_REWARD</reward>$_wwm_r" ;;
        esac ;;
    *) WWM_MSG="reward: $WWM_REWARD$_wwm_nl$WWM_MSG" ;;
    esac
}

wwm_serve_world() {
    _wwm_seed=1
    wwm_int "${WWM_SEED:-1}" && _wwm_seed=$WWM_INT
    "$1" "$_wwm_seed" > state.tmp
    "$3" > score.tmp && mv -f score.tmp score
    mv -f state.tmp state                 # state last: score is already current
    while :; do
        wwm_wait action
        wwm_take action || continue
        WWM_REWARD= WWM_DONE=
        "$2" "$WWM_MSG" > .wwm_body     # body first: STEP sets the reward
        wwm_take .wwm_body
        [ -n "$WWM_REWARD" ] && _wwm_embed_reward
        "$3" > score.tmp && mv -f score.tmp score
        [ "$WWM_DONE" = 1 ] && wwm_put done "1$_wwm_nl"
        wwm_put state "$WWM_MSG"
    done
}
