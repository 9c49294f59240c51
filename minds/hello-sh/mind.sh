# hello Mind in POSIX sh: binary search for the hello World's secret number.
# State lines "low: L" and "high: H" (defaults 1 and 100); action: (L+H) floor-div 2.
. "${WWM_SERVER_DIR:-${0%/*}}/wwm.sh"

act() {
    low=1 high=100
    while IFS= read -r line; do
        case $line in
        low:*) wwm_int "${line#low:}" && low=$WWM_INT ;;
        high:*) wwm_int "${line#high:}" && high=$WWM_INT ;;
        esac
    done <<END_OF_STATE
$1
END_OF_STATE
    sum=$((low + high))
    # $(( / )) truncates toward zero; the contract's division floors.
    if [ "$sum" -lt 0 ] && [ $((sum % 2)) -ne 0 ]; then sum=$((sum - 1)); fi
    printf '%s\n' $((sum / 2))
}

wwm_serve_mind act
