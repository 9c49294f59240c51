/* hello Mind in C: binary search for the hello World's secret number.
 * State lines "low: L" and "high: H" (defaults 1 and 100); action: (L+H) floor-div 2. */
#include "wwm.h"

static const char *act(const char *state, void *ctx)
{
    static char out[32];
    long low = 1, high = 100;
    (void)ctx;
    wwm_field(state, "low", &low);   /* leaves the default if absent */
    wwm_field(state, "high", &high);
    long sum = low + high;
    long guess = sum / 2 - (sum < 0 && sum % 2 != 0); /* C truncates; we floor */
    snprintf(out, sizeof out, "%ld\n", guess);
    return out;
}

int main(void)
{
    return wwm_serve_mind(act, NULL);
}
