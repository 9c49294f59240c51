/* wwm.h -- the World-Wide-Mind file protocol for C (C99, single header).
 *
 * Usage (a Mind; the server folder holds a symlink wwm.h -> ../../wwm/lib/wwm.h):
 *   #include "wwm.h"
 *   static const char *act(const char *state, void *ctx)
 *   { (void)state; (void)ctx; return "50\n"; }
 *   int main(void) { return wwm_serve_mind(act, NULL); }
 *
 * A World fills a struct wwm_world (reset/step/score) and calls
 * wwm_serve_world(&w, ctx); see worlds/hello-c/world.c.
 *
 * API (names are files in the working directory = the run directory):
 *   void  wwm_wait(name)        block until `name` exists; exit(0) once `stop` exists
 *   char *wwm_take(name)        read the whole file and delete it; malloc'd text,
 *                               NULL if the file is absent (free it yourself)
 *   int   wwm_put(name, text)   write name.tmp, rename() it to name; 0 on success
 *   int   wwm_int(text, &n)     1 if text is an integer (optional sign, digits,
 *                               surrounding whitespace, |n| < 10^9), else 0
 *   int   wwm_field(text, key, &n)  the last "key: N" line with an integer N
 *   int   wwm_serve_mind(act, ctx)   / int wwm_serve_world(&world, ctx)
 * Strings returned by callbacks belong to the program (a static buffer is fine,
 * even one shared by several callbacks: the helper copies what it still needs).
 *
 * Waiting: inotify on "." (Linux) with a 100 ms poll() timeout as a safety net
 * (e.g. network file systems); elsewhere, or if inotify fails, sleeps of 1 ms
 * growing to 10 ms. SIGTERM, SIGINT and SIGHUP exit 0.
 */
#ifndef WWM_H
#define WWM_H

/* POSIX 2008 (O_CLOEXEC, nanosleep, sigaction) even under -std=c99; this only
   works if wwm.h is included before any system header. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__) && !defined(WWM_NO_INOTIFY) /* -DWWM_NO_INOTIFY: always poll */
#define WWM__INOTIFY 1
#include <sys/inotify.h>
#endif

/* static inline: unused helpers cost nothing and raise no warnings. */
#define WWM_API static inline

typedef const char *(*wwm_act_fn)(const char *state, void *ctx);

struct wwm_world {
    const char *(*reset)(void *ctx, long seed); /* the first state */
    /* the next state (no reward line: the helper adds it); set *reward, and
       *done = 1 when the run has ended (both start at 0) */
    const char *(*step)(void *ctx, const char *action, double *reward, int *done);
    const char *(*score)(void *ctx); /* the score file's contents */
};

WWM_API void wwm__on_signal(int sig) { (void)sig; _exit(0); }

WWM_API int wwm__gone(void) /* the run directory was deleted under us */
{
    struct stat st;
    return stat(".", &st) != 0 || st.st_nlink == 0;
}

/* One-time set-up: signal handlers and the inotify descriptor (-1 if none). */
WWM_API int wwm__init(void)
{
    static int fd = -2;
    if (fd != -2)
        return fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wwm__on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    fd = -1;
#ifdef WWM__INOTIFY
    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    /* A watch set up before each check means no creation can slip between the
       check and the wait: it is queued as an event and wakes poll(). */
    if (fd >= 0 && inotify_add_watch(fd, ".", IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF) < 0) {
        close(fd);
        fd = -1;
    }
#endif
    return fd;
}

WWM_API void wwm_wait(const char *name)
{
    int fd = wwm__init();
    long nap_us = 1000;
    for (;;) {
        if (access("stop", F_OK) == 0)
            exit(0);
        if (access(name, F_OK) == 0)
            return;
        if (fd >= 0) {
            struct pollfd p = {fd, POLLIN, 0};
            int r = poll(&p, 1, 100);
            if (r == 0 && wwm__gone())
                exit(0);
#ifdef WWM__INOTIFY
            if (r > 0) { /* drain the queue; we only needed the wake-up */
                union { struct inotify_event ev; char bytes[4096]; } buf;
                ssize_t n;
                while ((n = read(fd, buf.bytes, sizeof buf.bytes)) > 0)
                    for (char *q = buf.bytes; q < buf.bytes + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)(void *)q;
                        if (ev->mask & (IN_DELETE_SELF | IN_IGNORED))
                            exit(0); /* the run directory is gone */
                        q += sizeof *ev + ev->len;
                    }
            }
#endif
        } else {
            struct timespec ts = {0, nap_us * 1000};
            nanosleep(&ts, NULL);
            if (nap_us < 10000)
                nap_us = nap_us * 2 < 10000 ? nap_us * 2 : 10000;
            else if (wwm__gone())
                exit(0);
        }
    }
}

WWM_API char *wwm_take(const char *name)
{
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (len + 1 >= cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    unlink(name);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* Write text (plus "\n" if add_nl and text lacks one) to name.tmp, then rename. */
WWM_API int wwm__write(const char *name, const char *text, int add_nl)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", name) >= (int)sizeof tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(text), off = 0;
    int ok = 1;
    while (ok && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            ok = 0;
        else
            off += (size_t)n;
    }
    if (ok && add_nl && (len == 0 || text[len - 1] != '\n'))
        ok = write(fd, "\n", 1) == 1;
    if (close(fd) != 0 || !ok)
        return -1;
    return rename(tmp, name);
}

WWM_API int wwm_put(const char *name, const char *text) { return wwm__write(name, text, 0); }

WWM_API int wwm__space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Stops at the first non-digit after the digits, then allows only whitespace,
   and stops at a newline when called by wwm_field (stop_nl). */
WWM_API int wwm__int(const char *s, long *out, int stop_nl)
{
    while (*s && wwm__space(*s) && !(stop_nl && *s == '\n'))
        s++;
    int neg = (*s == '-');
    if (*s == '-' || *s == '+')
        s++;
    if (*s < '0' || *s > '9')
        return 0;
    while (*s == '0' && s[1] >= '0' && s[1] <= '9')
        s++; /* leading zeros do not count as digits */
    long v = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++)
        if (digits < 9)
            v = v * 10 + (*s - '0');
    if (digits > 9)
        return 0;
    while (*s && !(stop_nl && *s == '\n')) {
        if (!wwm__space(*s))
            return 0;
        s++;
    }
    *out = neg ? -v : v;
    return 1;
}

WWM_API int wwm_int(const char *text, long *out) { return wwm__int(text, out, 0); }

WWM_API int wwm_field(const char *text, const char *key, long *out)
{
    size_t k = strlen(key);
    int found = 0;
    for (const char *line = text; line && *line;) {
        if (strncmp(line, key, k) == 0 && line[k] == ':' && wwm__int(line + k + 1, out, 1))
            found = 1;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return found;
}

WWM_API int wwm_serve_mind(wwm_act_fn act, void *ctx)
{
    for (;;) {
        wwm_wait("state");
        char *state = wwm_take("state");
        if (!state)
            continue; /* gone again (another reader?): wait for the next one */
        const char *action = act(state, ctx);
        wwm__write("action", action ? action : "", 1);
        free(state);
    }
    return 0; /* not reached: the loop ends by exit(0) on `stop` */
}

/* Shortest text that reads back as r; integral values print without ".0". */
WWM_API void wwm__fmt_reward(double r, char out[40])
{
    if (r > -1e15 && r < 1e15 && r == (double)(long long)r) { /* no libm needed */
        snprintf(out, 40, "%lld", (long long)r);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(out, 40, "%.*g", p, r);
        if (strtod(out, NULL) == r)
            return;
    }
}

/* The state with the reward added: a first "reward: R" line for text, or a
   first child <reward>R</reward> after the root's start tag for XML. */
WWM_API char *wwm__with_reward(const char *state, double reward)
{
    char r[40];
    wwm__fmt_reward(reward, r);
    size_t n = strlen(state) + 2 * strlen(r) + 64;
    char *out = malloc(n);
    if (!out)
        return NULL;
    const char *gt = state[0] == '<' ? strchr(state, '>') : NULL;
    if (!gt) {
        snprintf(out, n, "reward: %s\n%s", r, state);
    } else if (gt[-1] == '/') { /* <root/> becomes <root><reward>R</reward></root> */
        size_t name = strcspn(state + 1, " \t\r\n/>");
        snprintf(out, n, "%.*s><reward>%s</reward></%.*s>%s", (int)(gt - 1 - state), state, r,
                 (int)name, state + 1, gt + 1);
    } else {
        snprintf(out, n, "%.*s<reward>%s</reward>%s", (int)(gt + 1 - state), state, r, gt + 1);
    }
    return out;
}

WWM_API int wwm_serve_world(const struct wwm_world *w, void *ctx)
{
    long seed = 1;
    const char *env = getenv("WWM_SEED");
    if (env && !wwm_int(env, &seed))
        seed = 1;
    wwm__init(); /* handle SIGTERM from the start */
    const char *first = w->reset(ctx, seed);
    char *copy = strdup(first ? first : ""); /* score() may reuse reset()'s buffer */
    wwm_put("score", w->score(ctx));
    wwm_put("state", copy ? copy : ""); /* state last: score is already current */
    free(copy);
    for (;;) {
        wwm_wait("action");
        char *action = wwm_take("action");
        if (!action)
            continue;
        double reward = 0;
        int done = 0;
        const char *next = w->step(ctx, action, &reward, &done);
        free(action);
        char *state = wwm__with_reward(next ? next : "", reward);
        wwm_put("score", w->score(ctx));
        if (done)
            wwm_put("done", "1\n");
        wwm_put("state", state ? state : "");
        free(state);
    }
    return 0; /* not reached */
}

#endif /* WWM_H */
