/* hello World in C: guess the number (docs/protocol.md, "The hello game"). */
#include "wwm.h"

struct game {
    long x, secret, low, high, hits, steps;
    char state[64], score[64];
};

static void new_secret(struct game *g)
{
    g->x = (g->x * 75 + 74) % 65537;
    g->secret = g->x % 100 + 1;
}

static const char *show(struct game *g)
{
    snprintf(g->state, sizeof g->state, "low: %ld\nhigh: %ld\n", g->low, g->high);
    return g->state;
}

static const char *reset(void *ctx, long seed)
{
    struct game *g = ctx;
    g->x = (seed % 65537 + 65537) % 65537; /* C's % can be negative */
    new_secret(g);
    return show(g);
}

static const char *step(void *ctx, const char *action, double *reward, int *done)
{
    struct game *g = ctx;
    long guess;
    (void)done; /* the hello World never ends by itself */
    g->steps++;
    if (!wwm_int(action, &guess)) {
        *reward = -1; /* not an integer: state unchanged */
    } else if (guess == g->secret) {
        *reward = 1;
        g->hits++;
        g->low = 1;
        g->high = 100;
        new_secret(g);
    } else if (guess < g->secret) {
        g->low = guess + 1;
    } else {
        g->high = guess - 1;
    }
    return show(g);
}

static const char *score(void *ctx)
{
    struct game *g = ctx;
    snprintf(g->score, sizeof g->score, "%ld\nsteps: %ld\n", g->hits, g->steps);
    return g->score;
}

int main(void)
{
    struct game g = {.low = 1, .high = 100};
    struct wwm_world w = {reset, step, score};
    return wwm_serve_world(&w, &g);
}
