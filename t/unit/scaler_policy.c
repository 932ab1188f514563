/*
 * Copyright (C) nginx-faas developers
 *
 * Unit tests of the scaling policy (scaler/faas_scaler.c), as tables of
 * (history, policy) -> decision.  Each row is named by the rule it checks.
 * Times in the tables are seconds after an arbitrary Unix time (BASE), and
 * the default policy is Knative's: target 70 per replica when neither
 * "target" nor "concurrency" is set, 60 s and 6 s windows, panic at 2x the
 * ready replicas, 2x down and 1000x up per decision, idle 60 s, metrics
 * stale after 5 s.  Prints TAP.
 */


#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "faas_scaler.h"
#include "tap.h"


#define BASE        1700000000000LL      /* Unix ms of "time 0" */
#define TICK        2000                 /* the controller's default tick */
#define S(sec)      ((int64_t) ((sec) * 1000 + ((sec) < 0 ? -0.5 : 0.5)))
#define NOW_LAST    (-1)                 /* decide at the last sample */
#define FOLLOW      (-1)                 /* ready = the previous decision */
#define LR_AT       (-1)                 /* a request right at each sample */
#define SEGS        6


/*
 * A segment of history: one sample every "step" (a tick by default) from
 * "from" to "to" seconds, all alike.  Built with the macros below; extra
 * fields (.parked, .req, .lr, .incomplete, .step) follow the concurrency.
 */
typedef struct {
    int       used;
    int64_t   from_ms;
    int64_t   to_ms;
    double    conc;                 /* concurrency of each sample */
    int64_t   parked;
    uint64_t  req;                  /* requests since the previous sample */
    int64_t   lr;                   /* last request, ms after BASE; 0: none;
                                       LR_AT: the sample's own time */
    int       incomplete;
    int       skip;                 /* ticks with no sample at all */
    int64_t   step;                 /* ms between samples; 0: TICK */
} seg_t;

#define RUN(from, to, c, ...)                                                \
    { .used = 1, .from_ms = S(from), .to_ms = S(to), .conc = (c),          \
      __VA_ARGS__ }
#define AT(at, c, ...)        RUN(at, at, c, __VA_ARGS__)
#define SKIP(from, to)                                                       \
    { .used = 1, .from_ms = S(from), .to_ms = S(to), .skip = 1 }


/* policy knobs of a row: 0 keeps the default */
typedef struct {
    int64_t   min;
    int64_t   max;
    int64_t   target;
    int64_t   concurrency;
    int64_t   idle_ms;
    int64_t   stale_ms;
    double    up_rate;
} knobs_t;


static faas_scaler_policy_t
policy(const knobs_t *k)
{
    faas_scaler_policy_t  p;

    p = faas_scaler_policy_defaults();

    p.min = k->min;
    p.max = k->max;
    p.target = k->target;
    p.concurrency = k->concurrency;

    if (k->idle_ms) {
        p.idle_ms = k->idle_ms;
    }

    if (k->stale_ms) {
        p.stale_ms = k->stale_ms;
    }

    if (k->up_rate > 0) {
        p.max_scale_up_rate = k->up_rate;
    }

    return p;
}


/*
 * Feeds the segments to the state.  With a trace buffer, decides after
 * every tick as the controller does (current follows the decisions, ready
 * too unless fixed) and appends each tick's count to the trace, with "p"
 * while panicking and runs written "N*count".  Returns the time of the
 * last tick.
 */

typedef struct {
    char                    *buf;
    size_t                   size;
    char                     last[32];
    int                      run;
    int64_t                  ready;         /* FOLLOW or fixed */
    int64_t                  current;
    faas_scaler_decision_t   last_decision;
} trace_t;


static void
trace_flush(trace_t *tr)
{
    size_t  len;

    if (tr->run == 0) {
        return;
    }

    len = strlen(tr->buf);

    if (tr->run == 1) {
        snprintf(tr->buf + len, tr->size - len, "%s%s", len ? " " : "",
                 tr->last);

    } else {
        snprintf(tr->buf + len, tr->size - len, "%s%s*%d", len ? " " : "",
                 tr->last, tr->run);
    }

    tr->run = 0;
}


static void
trace_add(trace_t *tr, const faas_scaler_decision_t *d)
{
    char  tok[32];

    snprintf(tok, sizeof(tok), "%lld%s", (long long) d->desired,
             d->panicking ? "p" : "");

    if (tr->run > 0 && strcmp(tok, tr->last) == 0) {
        tr->run++;
        return;
    }

    trace_flush(tr);
    strcpy(tr->last, tok);
    tr->run = 1;
}


static int64_t
feed(faas_scaler_state_t *s, const faas_scaler_policy_t *p,
    const seg_t *segs, trace_t *tr)
{
    int                     i;
    int64_t                 t, step, last, ready;
    faas_scaler_sample_t    sm;
    faas_scaler_decision_t  d;

    last = 0;

    for (i = 0; i < SEGS && segs[i].used; i++) {
        step = segs[i].step ? segs[i].step : TICK;

        for (t = segs[i].from_ms; ; t += step) {
            if (!segs[i].skip) {
                memset(&sm, 0, sizeof(sm));
                sm.at_ms = BASE + t;
                sm.concurrency = segs[i].conc;
                sm.parked = segs[i].parked;
                sm.requests_delta = segs[i].req;
                sm.last_request_ms = segs[i].lr == LR_AT ? BASE + t
                                     : segs[i].lr ? BASE + segs[i].lr : 0;
                sm.complete = !segs[i].incomplete;

                faas_scaler_observe(s, &sm);
            }

            if (tr != NULL) {
                ready = tr->ready == FOLLOW ? tr->current : tr->ready;
                d = faas_scaler_decide(s, p, BASE + t, ready, tr->current);
                tr->current = d.desired;
                tr->last_decision = d;
                trace_add(tr, &d);
            }

            last = t;

            if (t + step > segs[i].to_ms) {
                break;
            }
        }
    }

    return last;
}


/* (history, policy, ready, current) -> one decision */

typedef struct {
    const char  *name;
    knobs_t      pol;
    seg_t        hist[SEGS];
    int64_t      now;               /* ms after BASE, or NOW_LAST */
    int64_t      ready;
    int64_t      current;
    int64_t      want;
    const char  *reason;
} decide_row_t;


static const decide_row_t  decide_rows[] = {

    /* the target rule and the stable window */

    { "stable: 70 in flight fill one replica at the default target 70",
      { 0 }, { RUN(0, 58, 70) }, NOW_LAST, 1, 1, 1, "stable" },

    { "stable: 71 in flight need 2 replicas",
      { 0 }, { RUN(0, 58, 71) }, NOW_LAST, 2, 2, 2, "stable" },

    { "stable: exactly 140 ask for 2, not 3",
      { 0 }, { RUN(0, 58, 140) }, NOW_LAST, 2, 2, 2, "stable" },

    { "rounding: 2.1 / 0.7 is 3 (3.0000000000000004 in floating point)",
      { .concurrency = 1 }, { RUN(0, 4, 2.1) }, NOW_LAST, 3, 3, 3,
      "stable" },

    { "target: scale target=10 is used as is (35 -> 4)",
      { .target = 10 }, { RUN(0, 58, 35) }, NOW_LAST, 4, 4, 4, "stable" },

    { "target: 70% of concurrency=10 is 7 (35 -> 5)",
      { .concurrency = 10 }, { RUN(0, 58, 35) }, NOW_LAST, 5, 5, 5,
      "stable" },

    { "target: target= wins over concurrency= (35 / 5 -> 7)",
      { .target = 5, .concurrency = 10 }, { RUN(0, 58, 35) }, NOW_LAST,
      7, 7, 7, "stable" },

    { "target: 70% of concurrency=1 is 0.7 (7 -> 10)",
      { .concurrency = 1 }, { RUN(0, 58, 7) }, NOW_LAST, 10, 10, 10,
      "stable" },

    { "stable: the window average, not the last sample (26x140, 4x0 -> 2)",
      { 0 }, { RUN(0, 50, 140), RUN(52, 58, 0) }, NOW_LAST, 2, 2, 2,
      "stable" },

    { "stable: samples older than 60 s are ignored",
      { 0 }, { RUN(0, 60, 700), RUN(62, 120, 70) }, NOW_LAST, 1, 1, 1,
      "stable" },

    { "stable: the sample exactly 60 s old is out of the window",
      { 0 }, { AT(0, 700), RUN(2, 60, 140) }, NOW_LAST, 2, 2, 2, "stable" },

    { "stable: average over the samples present, not over empty time",
      { 0 }, { RUN(50, 58, 140) }, NOW_LAST, 2, 2, 2, "stable" },

    { "edge: one sample is used (210 -> 3)",
      { 0 }, { AT(10, 210) }, NOW_LAST, 2, 2, 3, "stable" },

    { "edge: empty history keeps the current count",
      { 0 }, { { 0 } }, S(10), 3, 3, 3, "no metrics yet: frozen" },

    { "edge: empty history keeps zero",
      { 0 }, { { 0 } }, S(10), 0, 0, 0, "no metrics yet: frozen" },

    { "edge: empty history still honours min",
      { .min = 2 }, { { 0 } }, S(10), 0, 0, 2, "bounded by min" },

    { "edge: empty history still honours max",
      { .max = 3 }, { { 0 } }, S(10), 5, 5, 3, "bounded by max" },

    /* panic mode */

    { "panic: starts when the 6 s window asks for 2x ready (4 >= 2x2)",
      { 0 }, { RUN(0, 52, 70), RUN(54, 58, 280) }, NOW_LAST, 2, 2, 4,
      "panic" },

    { "panic: not below 2x ready (3 < 2x2): stable decides",
      { 0 }, { RUN(0, 52, 70), RUN(54, 58, 210) }, NOW_LAST, 2, 2, 2,
      "stable" },

    { "panic: from one ready replica (5 >= 2x1)",
      { 0 }, { RUN(0, 52, 70), RUN(54, 58, 350) }, NOW_LAST, 1, 1, 5,
      "panic" },

    { "panic: takes the stable need when it is larger (stable 5, panic 2)",
      { 0 }, { RUN(0, 52, 300), RUN(54, 58, 140) }, NOW_LAST, 1, 1, 5,
      "panic" },

    { "panic: never below the current count (current 6, need 4)",
      { 0 }, { RUN(0, 52, 0), RUN(54, 58, 280) }, NOW_LAST, 2, 6, 6,
      "panic" },

    { "panic: no ready replica counts as one (2 >= 2x1)",
      { 0 }, { RUN(0, 52, 0), RUN(54, 58, 140) }, NOW_LAST, 0, 1, 2,
      "panic" },

    { "panic: from zero, a burst asking for 2 panics at once",
      { 0 }, { RUN(0, 52, 0), RUN(54, 58, 140) }, NOW_LAST, 0, 0, 2,
      "panic" },

    { "panic: from zero, a burst asking for 1 does not (wake to 1)",
      { 0 }, { RUN(0, 52, 0), RUN(54, 58, 70) }, NOW_LAST, 0, 0, 1,
      "stable" },

    /* rates */

    { "rate: at most 2x down per decision (10 -> 5, need 1)",
      { 0 }, { RUN(0, 58, 70) }, NOW_LAST, 10, 10, 5,
      "limited by max scale-down rate" },

    { "rate: 2x down rounds up (5 -> 3)",
      { 0 }, { RUN(0, 58, 70) }, NOW_LAST, 5, 5, 3,
      "limited by max scale-down rate" },

    { "rate: 2 -> 1 is within 2x down",
      { 0 }, { RUN(0, 58, 70) }, NOW_LAST, 2, 2, 1, "stable" },

    { "rate: at most 1000x up per decision (1 -> 1000, need 2000)",
      { 0 }, { RUN(0, 58, 140000) }, NOW_LAST, 1, 1, 1000,
      "limited by max scale-up rate" },

    { "rate: from zero, up counts from 1 (0 -> 1000, need 2000)",
      { 0 }, { RUN(0, 58, 140000) }, NOW_LAST, 0, 0, 1000,
      "limited by max scale-up rate" },

    { "rate: a lower up rate is honoured (2 -> 6 at 3x, need 10)",
      { .up_rate = 3 }, { RUN(0, 58, 700) }, NOW_LAST, 5, 2, 6,
      "limited by max scale-up rate" },

    /* bounds */

    { "bounds: max=0 is unlimited (1000 -> 1500)",
      { .max = 0 }, { RUN(0, 58, 105000) }, NOW_LAST, 1000, 1000, 1500,
      "stable" },

    { "bounds: max caps the need (need 1500, max 3)",
      { .max = 3 }, { RUN(0, 58, 105000) }, NOW_LAST, 3, 3, 3,
      "bounded by max" },

    { "bounds: max wins over 2x down (10 -> 4 at max 4)",
      { .max = 4 }, { RUN(0, 58, 70) }, NOW_LAST, 10, 10, 4,
      "bounded by max" },

    { "bounds: max caps panic",
      { .max = 3 }, { RUN(0, 52, 70), RUN(54, 58, 700) }, NOW_LAST, 1, 1, 3,
      "bounded by max" },

    { "bounds: min raises the need (need 1, min 2)",
      { .min = 2 }, { RUN(0, 58, 70) }, NOW_LAST, 2, 2, 2,
      "bounded by min" },

    { "bounds: min raises from zero without traffic",
      { .min = 3 }, { RUN(0, 58, 0) }, NOW_LAST, 0, 0, 3,
      "bounded by min" },

    { "bounds: min wins over 2x down (10 -> 8 at min 8)",
      { .min = 8 }, { RUN(0, 58, 70) }, NOW_LAST, 10, 10, 8,
      "bounded by min" },

    /* scale to zero */

    { "idle: zero after 60 s without a request",
      { 0 }, { RUN(0, 10, 70, .req = 5, .lr = LR_AT), RUN(12, 70, 0) },
      NOW_LAST, 1, 1, 0, "idle: scale to zero" },

    { "idle: not at 58 s without a request (the window still holds it)",
      { 0 }, { RUN(0, 10, 70, .req = 5, .lr = LR_AT), RUN(12, 68, 0) },
      NOW_LAST, 1, 1, 1, "stable" },

    { "idle: idle=10s, zero 10 s after the last request",
      { .idle_ms = 10000 },
      { RUN(0, 100, 70, .req = 5, .lr = LR_AT), RUN(102, 110, 0) },
      NOW_LAST, 1, 1, 0, "idle: scale to zero" },

    { "idle: idle=10s goes to zero before the stable window empties",
      { .idle_ms = 10000 },
      { RUN(0, 100, 70, .req = 5, .lr = LR_AT), RUN(102, 120, 0) },
      NOW_LAST, 1, 1, 0, "idle: scale to zero" },

    { "idle: idle=300s keeps one after the stable window empties",
      { .idle_ms = 300000 },
      { RUN(0, 10, 70, .req = 5, .lr = LR_AT), RUN(12, 120, 0) },
      NOW_LAST, 1, 1, 1, "kept at 1: recent traffic" },

    { "idle: a moving last_request_ms alone is traffic (counter flat)",
      { 0 }, { RUN(0, 98, 0), RUN(100, 120, 0, .lr = S(99)) },
      NOW_LAST, 1, 1, 1, "kept at 1: recent traffic" },

    { "idle: a moving request counter alone is traffic",
      { 0 }, { RUN(0, 98, 0), AT(100, 0, .req = 3), RUN(102, 120, 0) },
      NOW_LAST, 1, 1, 1, "kept at 1: recent traffic" },

    { "idle: a request long ago (last_request_ms 200 s back) is no traffic",
      { 0 }, { RUN(0, 120, 0, .lr = S(-80)) }, NOW_LAST, 1, 1, 0,
      "idle: scale to zero" },

    { "idle: an open stream (in flight, no new request) is traffic",
      { 0 }, { RUN(0, 120, 1, .lr = S(-300)) }, NOW_LAST, 1, 1, 1,
      "stable" },

    { "idle: in flight in the newest sample only is traffic",
      { .idle_ms = 1000 }, { RUN(0, 118, 0), AT(120, 1) }, S(124), 1, 1, 1,
      "stable" },

    { "idle: parked requests are traffic even if not in concurrency",
      { 0 }, { RUN(0, 118, 0), AT(120, 0, .parked = 2) }, NOW_LAST, 0, 0, 1,
      "kept at 1: requests parked" },

    { "idle: min=1 never goes to zero",
      { .min = 1 }, { RUN(0, 120, 0) }, NOW_LAST, 1, 1, 1, "bounded by min" },

    { "idle: not before a whole idle period was watched",
      { 0 }, { RUN(100, 150, 0) }, NOW_LAST, 1, 1, 1,
      "kept at 1: not idle long enough" },

    { "idle: zero once a whole idle period was watched",
      { 0 }, { RUN(100, 160, 0) }, NOW_LAST, 1, 1, 0, "idle: scale to zero" },

    { "idle: never any traffic, at zero, stays at zero",
      { 0 }, { RUN(100, 120, 0) }, NOW_LAST, 0, 0, 0, "stable" },

    { "idle: an incomplete sample restarts the watch (56 s since)",
      { 0 }, { RUN(0, 60, 0), AT(62, 0, .incomplete = 1), RUN(64, 120, 0) },
      NOW_LAST, 1, 1, 1, "kept at 1: not idle long enough" },

    { "idle: ... and zero 60 s after it",
      { 0 }, { RUN(0, 60, 0), AT(62, 0, .incomplete = 1), RUN(64, 124, 0) },
      NOW_LAST, 1, 1, 0, "idle: scale to zero" },

    { "idle: traffic in an incomplete sample still counts",
      { 0 }, { RUN(0, 60, 0), AT(62, 0, .req = 1, .incomplete = 1),
               RUN(64, 120, 0) },
      NOW_LAST, 1, 1, 1, "kept at 1: recent traffic" },

    { "idle: steps down 2x toward zero (4 -> 2)",
      { 0 }, { RUN(0, 120, 0) }, NOW_LAST, 4, 4, 2,
      "idle: scaling down toward zero" },

    { "idle: steps down 2x toward zero (2 -> 1)",
      { 0 }, { RUN(0, 120, 0) }, NOW_LAST, 2, 2, 1,
      "idle: scaling down toward zero" },

    { "idle: the last step 1 -> 0",
      { 0 }, { RUN(0, 120, 0) }, NOW_LAST, 1, 1, 0, "idle: scale to zero" },

    { "idle: a revision at zero stays at zero",
      { 0 }, { RUN(0, 120, 0) }, NOW_LAST, 0, 0, 0, "idle: scale to zero" },

    /* missing and stale metrics */

    { "frozen: newest sample 6 s old (stale after 5 s) keeps 3, need 1",
      { 0 }, { RUN(0, 58, 70) }, S(64), 3, 3, 3, "metrics stale: frozen" },

    { "frozen: a sample exactly 5 s old is still fresh",
      { 0 }, { RUN(0, 58, 70) }, S(63), 3, 3, 2,
      "limited by max scale-down rate" },

    { "frozen: a custom stale bound (10 s) is honoured",
      { .stale_ms = 10000 }, { RUN(0, 58, 70) }, S(64), 3, 3, 2,
      "limited by max scale-down rate" },

    { "frozen: an incomplete newest sample keeps 3, need 1",
      { 0 }, { RUN(0, 56, 70), AT(58, 0, .incomplete = 1) }, NOW_LAST, 3, 3,
      3, "metrics incomplete: frozen" },

    { "frozen: incomplete, but the complete samples ask for more (2 -> 4)",
      { 0 }, { RUN(0, 56, 280), AT(58, 0, .incomplete = 1) }, NOW_LAST, 2, 2,
      4, "metrics incomplete: frozen, scaling up" },

    { "frozen: stale, but the samples in the window ask for more (2 -> 4)",
      { 0 }, { RUN(0, 50, 280) }, S(58), 2, 2, 4,
      "metrics stale: frozen, scaling up" },

    { "frozen: stale samples out of the window ask for nothing",
      { 0 }, { RUN(0, 50, 280) }, S(200), 2, 2, 2, "metrics stale: frozen" },

    { "frozen: no scale to zero on an incomplete sample",
      { 0 }, { RUN(0, 118, 0), AT(120, 0, .incomplete = 1) }, NOW_LAST, 1, 1,
      1, "metrics incomplete: frozen" },

    { "frozen: no scale to zero on stale metrics",
      { 0 }, { RUN(0, 120, 0) }, S(200), 1, 1, 1, "metrics stale: frozen" },

    { "frozen: parked requests in a partial sample wake a revision at zero",
      { 0 }, { RUN(0, 118, 0), AT(120, 0, .parked = 3, .incomplete = 1) },
      NOW_LAST, 0, 0, 1, "metrics incomplete: frozen, scaling up" },

    { "frozen: only incomplete samples keep the current count",
      { 0 }, { RUN(0, 10, 500, .incomplete = 1) }, NOW_LAST, 2, 2, 2,
      "metrics incomplete: frozen" },

    { "frozen: max still applies",
      { .max = 3 }, { RUN(0, 56, 70), AT(58, 0, .incomplete = 1) }, NOW_LAST,
      5, 5, 3, "bounded by max" },

    { "frozen: min still applies",
      { .min = 4 }, { RUN(0, 56, 70), AT(58, 0, .incomplete = 1) }, NOW_LAST,
      2, 2, 4, "bounded by min" },

    /* more history than the state keeps */

    { "edge: at 100 ms ticks the windows hold the newest 256 samples",
      { 0 }, { RUN(0, 19.9, 700, .step = 100),
               RUN(20, 49.9, 70, .step = 100) },
      NOW_LAST, 1, 1, 1, "stable" },
};


static void
test_decide_rows(void)
{
    size_t                  i;
    int64_t                 last, now;
    char                    name[200];
    faas_scaler_state_t     s;
    faas_scaler_policy_t    p;
    faas_scaler_decision_t  d;
    const decide_row_t     *r;

    for (i = 0; i < sizeof(decide_rows) / sizeof(decide_rows[0]); i++) {
        r = &decide_rows[i];

        p = policy(&r->pol);
        ok(faas_scaler_policy_check(&p) == NULL, "row's policy is valid");

        faas_scaler_init(&s);
        last = feed(&s, &p, r->hist, NULL);
        now = r->now == NOW_LAST ? last : r->now;

        d = faas_scaler_decide(&s, &p, BASE + now, r->ready, r->current);

        snprintf(name, sizeof(name), "%s: desired", r->name);
        is_int(d.desired, r->want, name);
        snprintf(name, sizeof(name), "%s: reason", r->name);
        is_str(d.reason, r->reason, name);
    }
}


/* the controller's loop over time: a decision every tick */

typedef struct {
    const char  *name;
    knobs_t      pol;
    seg_t        hist[SEGS];
    int64_t      ready;             /* FOLLOW, or fixed */
    int64_t      current;           /* before the first tick */
    const char  *trace;             /* every tick's count; "p": panicking */
    const char  *reason;            /* of the last decision */
} timeline_row_t;


static const timeline_row_t  timeline_rows[] = {

    /*
     * 70 in flight for a minute, then 700 for 20 s: panic at the first
     * tick of the burst (4 >= 2x1), up to 10 while the panic window fills,
     * held at 10 (never down) although the panic window falls to 4 at
     * t=82, out of panic 60 s after the last tick over the threshold
     * (t=60 -> t=120), then down at most 2x per tick as the burst leaves
     * the stable window.
     */
    { "panic: burst from one replica, held, then released after 60 s",
      { 0 }, { RUN(0, 58, 70), RUN(60, 78, 700), RUN(80, 200, 70) },
      FOLLOW, 1, "1*30 4p 7p 10p*28 5 4*2 3*3 2*3 1*32", "stable" },

    /*
     * Replicas slow to start (ready stays 1): the panic condition holds
     * while the burst is in the panic window (up to t=34), so panic lasts
     * until t=94 although the revision is idle from t=90; then the idle
     * rule steps down 2x per tick and takes the last replica at t=102.
     */
    { "panic: extended while over the threshold, no zero while panicking",
      { 0 }, { RUN(0, 10, 0), RUN(12, 30, 700), RUN(32, 120, 0) },
      1, 1, "1*6 4p 7p 10p*39 5 3 2 1 0*10", "idle: scale to zero" },

    /*
     * Cold revision woken by parked requests: nothing ready, 350 parked;
     * the panic window asks for 2 >= 2x max(ready 0, 1), so it panics
     * at once, then follows the panic window (4 >= 2x2, then 5).
     */
    { "panic: burst from zero panics with no replica ready",
      { 0 }, { RUN(0, 60, 0), RUN(62, 70, 350, .parked = 350) },
      FOLLOW, 0, "0*31 2p 4p 5p*3", "panic" },

    /*
     * Metrics stop after t=26 while the load was falling: the count
     * follows the samples while they are fresh (5 s), then freezes for
     * the rest of the minute, when the window would otherwise have
     * emptied and let it fall to the floor.
     */
    { "frozen: samples stop, the count freezes once they are 6 s old",
      { 0 }, { RUN(0, 22, 700), RUN(24, 26, 0), SKIP(28, 100) },
      FOLLOW, 10, "10*13 9*38", "metrics stale: frozen" },

    /*
     * Redis unreachable for 20 s (incomplete samples with nothing in
     * them): no scale-down during the outage; afterwards the stable
     * window, free of the zeros, resumes.
     */
    { "frozen: an outage of 20 s neither scales down nor skews averages",
      { 0 }, { RUN(0, 58, 280), RUN(60, 78, 0, .incomplete = 1),
               RUN(80, 90, 280) },
      FOLLOW, 4, "4*46", "stable" },

    /* a steady load: the same count every tick */
    { "stable: 350 in flight at target 70 stay at 5",
      { 0 }, { RUN(0, 120, 350) }, FOLLOW, 5, "5*61", "stable" },
};


static void
test_timelines(void)
{
    size_t                 i;
    char                   buf[512], name[200];
    trace_t                tr;
    faas_scaler_state_t    s;
    faas_scaler_policy_t   p;
    const timeline_row_t  *r;

    for (i = 0; i < sizeof(timeline_rows) / sizeof(timeline_rows[0]); i++) {
        r = &timeline_rows[i];

        p = policy(&r->pol);
        faas_scaler_init(&s);

        memset(&tr, 0, sizeof(tr));
        buf[0] = '\0';
        tr.buf = buf;
        tr.size = sizeof(buf);
        tr.ready = r->ready;
        tr.current = r->current;

        feed(&s, &p, r->hist, &tr);
        trace_flush(&tr);

        snprintf(name, sizeof(name), "%s: counts per tick", r->name);
        is_str(buf, r->trace, name);
        snprintf(name, sizeof(name), "%s: last reason", r->name);
        is_str(tr.last_decision.reason, r->reason, name);
    }
}


static void
test_target(void)
{
    static const struct {
        const char  *name;
        int64_t      target;
        int64_t      concurrency;
        int64_t      utilization_pct;
        double       want;
    } rows[] = {
        { "target: nothing set: 70% of 100", 0, 0, 70, 70.0 },
        { "target: concurrency=10: 70% of it", 0, 10, 70, 7.0 },
        { "target: concurrency=1: 0.7", 0, 1, 70, 0.7 },
        { "target: concurrency=3: 2.1", 0, 3, 70, 2.1 },
        { "target: target=7 as is", 7, 10, 70, 7.0 },
        { "target: target=5 with no concurrency", 5, 0, 70, 5.0 },
        { "target: target= is not scaled by utilization", 7, 0, 50, 7.0 },
        { "target: utilization 100% targets concurrency", 0, 10, 100, 10.0 },
        { "target: never below 0.01", 0, 1, 1, 0.01 },
    };

    size_t                i;
    faas_scaler_policy_t  p;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        p = faas_scaler_policy_defaults();
        p.target = rows[i].target;
        p.concurrency = rows[i].concurrency;
        p.utilization_pct = rows[i].utilization_pct;

        ok(fabs(faas_scaler_target(&p) - rows[i].want) < 1e-12,
           rows[i].name);
    }
}


static void
test_counter_delta(void)
{
    static const struct {
        const char  *name;
        uint64_t     before;
        uint64_t     now;
        uint64_t     want;
    } rows[] = {
        { "counter: grows by 50", 100, 150, 50 },
        { "counter: unchanged", 150, 150, 0 },
        { "counter: first seen, the whole value", 0, 7, 7 },
        { "counter: went down (nginx restarted): the new value", 150, 20,
          20 },
        { "counter: restarted, nothing counted since", 150, 0, 0 },
        { "counter: near the top of the range", UINT64_MAX - 1, UINT64_MAX,
          1 },
    };

    size_t  i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ok(faas_scaler_counter_delta(rows[i].before, rows[i].now)
           == rows[i].want, rows[i].name);
    }
}


static void
test_sum(void)
{
    int64_t                 now;
    faas_scaler_sample_t    sm;
    faas_scaler_snapshot_t  sn[3];

    now = BASE + S(100);

    memset(sn, 0, sizeof(sn));

    /* two nginx instances, both fresh */
    sn[0].at_ms = now - 800;
    sn[0].in_flight = 5;
    sn[0].parked = 2;
    sn[0].requests = 1000;
    sn[0].requests_before = 990;
    sn[0].last_request_ms = now - 900;

    sn[1].at_ms = now - 300;
    sn[1].in_flight = 3;
    sn[1].parked = 0;
    sn[1].requests = 400;
    sn[1].requests_before = 380;
    sn[1].last_request_ms = now - 400;

    sm = faas_scaler_sum(sn, 2, now, 5000);

    is_int(sm.at_ms, now, "sum: the sample is taken at now");
    ok(sm.concurrency == 8.0, "sum: concurrency is the sum of in_flight");
    is_int(sm.parked, 2, "sum: parked summed");
    is_int(sm.requests_delta, 30, "sum: request deltas summed (10 + 20)");
    is_int(sm.last_request_ms, now - 400, "sum: the latest last request");
    is_int(sm.complete, 1, "sum: all fresh: complete");

    /* the second nginx restarted: its counter went from 380 to 25 */
    sn[1].requests = 25;
    sm = faas_scaler_sum(sn, 2, now, 5000);
    is_int(sm.requests_delta, 35,
           "sum: a restarted nginx counts its new value (10 + 25)");

    /* the second nginx is 6 s behind: left out, sample incomplete */
    sn[1].at_ms = now - 6000;
    sm = faas_scaler_sum(sn, 2, now, 5000);
    ok(sm.concurrency == 5.0, "sum: a stale snapshot is left out");
    is_int(sm.requests_delta, 10, "sum: a stale snapshot's requests too");
    is_int(sm.complete, 0, "sum: a stale snapshot makes it incomplete");

    /* exactly at the bound is fresh; a clock ahead is fresh */
    sn[1].at_ms = now - 5000;
    sm = faas_scaler_sum(sn, 2, now, 5000);
    is_int(sm.complete, 1, "sum: a snapshot exactly 5 s old is fresh");
    sn[1].at_ms = now + 3000;
    sm = faas_scaler_sum(sn, 2, now, 5000);
    is_int(sm.complete, 1, "sum: a snapshot from a clock ahead is fresh");

    /* garbage counts do not subtract */
    sn[2] = sn[0];
    sn[2].in_flight = -4;
    sn[2].parked = -1;
    sm = faas_scaler_sum(sn, 3, now, 5000);
    ok(sm.concurrency == 8.0, "sum: a negative in_flight counts as 0");
    is_int(sm.parked, 2, "sum: a negative parked counts as 0");

    sm = faas_scaler_sum(NULL, 0, now, 5000);
    is_int(sm.complete, 0, "sum: no nginx reported: incomplete");
    ok(sm.concurrency == 0.0, "sum: no nginx reported: nothing counted");
}


/*
 * Counter resets end to end: two nginx instances, no request in flight,
 * one of them restarts during a quiet minute.  The controller keeps each
 * instance's previous counter, as faas_scaler_sum asks.
 */

static void
test_counter_resets(void)
{
    int                     t;
    uint64_t                before[2];
    faas_scaler_state_t     s;
    faas_scaler_policy_t    p;
    faas_scaler_sample_t    sm;
    faas_scaler_decision_t  d;
    faas_scaler_snapshot_t  sn[2];

    p = faas_scaler_policy_defaults();

    /* case 1: B restarts and counts 5 new requests: that is traffic */

    faas_scaler_init(&s);
    memset(sn, 0, sizeof(sn));
    sn[0].requests = 1000;
    sn[1].requests = 40;
    before[0] = 0;
    before[1] = 0;

    for (t = 0; t <= 130; t += 2) {
        if (t == 100) {
            sn[1].requests = 5;
        }

        sn[0].at_ms = BASE + S(t);
        sn[1].at_ms = BASE + S(t);
        sn[0].requests_before = before[0];
        sn[1].requests_before = before[1];

        sm = faas_scaler_sum(sn, 2, BASE + S(t), p.stale_ms);
        faas_scaler_observe(&s, &sm);

        if (t == 100) {
            is_int(sm.requests_delta, 5,
                   "reset: the restarted counter's value is the delta");
        }

        before[0] = sn[0].requests;
        before[1] = sn[1].requests;
    }

    d = faas_scaler_decide(&s, &p, BASE + S(130), 1, 1);
    is_int(d.desired, 1, "reset: requests after a restart are traffic");
    is_str(d.reason, "kept at 1: recent traffic",
           "reset: requests after a restart are traffic: reason");

    /* case 2: B restarts and counts exactly its old value: the counter
     * looks unchanged, but its last_request_ms moved */

    faas_scaler_init(&s);
    memset(sn, 0, sizeof(sn));
    sn[0].requests = 1000;
    sn[1].requests = 40;
    sn[0].last_request_ms = BASE - S(300);
    sn[1].last_request_ms = BASE - S(200);
    before[0] = 0;
    before[1] = 0;

    for (t = 0; t <= 130; t += 2) {
        if (t == 100) {
            sn[1].last_request_ms = BASE + S(99);
        }

        sn[0].at_ms = BASE + S(t);
        sn[1].at_ms = BASE + S(t);
        sn[0].requests_before = before[0];
        sn[1].requests_before = before[1];

        sm = faas_scaler_sum(sn, 2, BASE + S(t), p.stale_ms);
        faas_scaler_observe(&s, &sm);

        if (t == 100) {
            is_int(sm.requests_delta, 0,
                   "reset: a counter back at its old value shows 0");
        }

        before[0] = sn[0].requests;
        before[1] = sn[1].requests;
    }

    d = faas_scaler_decide(&s, &p, BASE + S(130), 1, 1);
    is_str(d.reason, "kept at 1: recent traffic",
           "reset: a moving last_request_ms is traffic though");

    d = faas_scaler_decide(&s, &p, BASE + S(160), 1, 1);
    is_str(d.reason, "metrics stale: frozen",
           "reset: (decided later without samples: frozen)");

    /* case 3: nothing moves for 130 s: zero */

    faas_scaler_init(&s);
    memset(sn, 0, sizeof(sn));
    sn[0].requests = 1000;
    sn[1].requests = 40;

    for (t = 0; t <= 130; t += 2) {
        sn[0].at_ms = BASE + S(t);
        sn[1].at_ms = BASE + S(t);
        sn[0].requests_before = sn[0].requests;
        sn[1].requests_before = sn[1].requests;

        sm = faas_scaler_sum(sn, 2, BASE + S(t), p.stale_ms);
        faas_scaler_observe(&s, &sm);
    }

    d = faas_scaler_decide(&s, &p, BASE + S(130), 1, 1);
    is_int(d.desired, 0, "reset: flat counters and no request: zero");
}


static void
test_decision_fields(void)
{
    faas_scaler_state_t     s;
    faas_scaler_policy_t    p;
    faas_scaler_decision_t  d;
    seg_t                   hist[SEGS] = {
        RUN(0, 52, 70), RUN(54, 58, 280)
    };

    p = faas_scaler_policy_defaults();
    faas_scaler_init(&s);
    feed(&s, &p, hist, NULL);

    d = faas_scaler_decide(&s, &p, BASE + S(58), 2, 2);

    ok(fabs(d.target - 70.0) < 1e-12, "fields: target 70");
    ok(fabs(d.stable_concurrency - 91.0) < 1e-9,
       "fields: stable average (27x70 + 3x280) / 30 = 91");
    ok(fabs(d.panic_concurrency - 280.0) < 1e-9,
       "fields: panic average over the last 6 s = 280");
    is_int(d.stable_desired, 2, "fields: stable need 2");
    is_int(d.panic_desired, 4, "fields: panic need 4");
    is_int(d.panicking, 1, "fields: panicking");
    is_int(d.panic_since_ms, BASE + S(58), "fields: panicking since now");
    is_int(d.frozen, 0, "fields: not frozen");

    d = faas_scaler_decide(&s, &p, BASE + S(70), 4, 4);
    is_int(d.frozen, 1, "fields: frozen when stale");
    is_int(d.panicking, 1, "fields: stale metrics do not end panic");
    is_int(d.panic_since_ms, BASE + S(58), "fields: panicking since then");

    faas_scaler_init(&s);
    d = faas_scaler_decide(&s, &p, BASE, 0, 0);
    ok(d.frozen && d.stable_concurrency == 0.0 && d.panic_concurrency == 0.0,
       "fields: empty history: frozen, averages 0");
}


static void
test_observe_edges(void)
{
    faas_scaler_state_t     s;
    faas_scaler_policy_t    p;
    faas_scaler_sample_t    sm;
    faas_scaler_decision_t  d;
    seg_t                   hist[SEGS] = { RUN(0, 120, 0) };

    p = faas_scaler_policy_defaults();

    /* a concurrency that is not a number makes the sample incomplete */
    faas_scaler_init(&s);
    feed(&s, &p, hist, NULL);
    memset(&sm, 0, sizeof(sm));
    sm.at_ms = BASE + S(122);
    sm.concurrency = NAN;
    sm.complete = 1;
    is_int(faas_scaler_observe(&s, &sm), 0, "observe: NaN sample accepted");
    d = faas_scaler_decide(&s, &p, BASE + S(122), 1, 1);
    is_str(d.reason, "metrics incomplete: frozen",
           "observe: NaN concurrency is an incomplete sample");

    sm.at_ms = BASE + S(124);
    sm.concurrency = INFINITY;
    faas_scaler_observe(&s, &sm);
    d = faas_scaler_decide(&s, &p, BASE + S(124), 1, 1);
    is_str(d.reason, "metrics incomplete: frozen",
           "observe: infinite concurrency is an incomplete sample");

    /* a negative concurrency reads as 0 */
    faas_scaler_init(&s);
    feed(&s, &p, hist, NULL);
    sm.at_ms = BASE + S(122);
    sm.concurrency = -50;
    sm.complete = 1;
    faas_scaler_observe(&s, &sm);
    d = faas_scaler_decide(&s, &p, BASE + S(122), 1, 1);
    is_int(d.desired, 0, "observe: negative concurrency reads as 0");

    /* the clock set back: history emptied, watch restarted */
    faas_scaler_init(&s);
    feed(&s, &p, hist, NULL);
    memset(&sm, 0, sizeof(sm));
    sm.at_ms = BASE + S(50);
    sm.complete = 1;
    is_int(faas_scaler_observe(&s, &sm), 1,
           "observe: an older sample empties the history");
    d = faas_scaler_decide(&s, &p, BASE + S(50), 1, 1);
    is_str(d.reason, "kept at 1: not idle long enough",
           "observe: after the clock went back, idle is watched anew");

    /* same time twice is not a step back */
    is_int(faas_scaler_observe(&s, &sm), 0,
           "observe: a sample at the same time is kept");

    /* a state may be copied: it holds no pointer */
    {
        faas_scaler_state_t     copy;
        faas_scaler_decision_t  d2;

        faas_scaler_init(&s);
        feed(&s, &p, hist, NULL);
        copy = s;
        d = faas_scaler_decide(&s, &p, BASE + S(120), 4, 4);
        d2 = faas_scaler_decide(&copy, &p, BASE + S(120), 4, 4);
        ok(d.desired == d2.desired && strcmp(d.reason, d2.reason) == 0,
           "state: a copy decides the same");
    }
}


static void
test_policy_check(void)
{
    faas_scaler_policy_t  p;

#define CHECK(field, value, valid, name)                                     \
    p = faas_scaler_policy_defaults();                                       \
    p.field = (value);                                                       \
    ok((faas_scaler_policy_check(&p) == NULL) == (valid), name)

    ok(faas_scaler_policy_check(&(faas_scaler_policy_t) {
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }) != NULL,
       "check: an all-zero policy is invalid (idle, windows, rates)");

    p = faas_scaler_policy_defaults();
    ok(faas_scaler_policy_check(&p) == NULL, "check: the defaults are valid");
    is_int(p.idle_ms, 60000, "defaults: idle 60 s");
    is_int(p.stable_window_ms, 60000, "defaults: stable window 60 s");
    is_int(p.panic_window_ms, 6000, "defaults: panic window 6 s");
    is_int(p.utilization_pct, 70, "defaults: utilisation 70%");
    is_int(p.stale_ms, 5000, "defaults: stale after 5 s");
    ok(p.panic_threshold == 2.0 && p.max_scale_down_rate == 2.0
       && p.max_scale_up_rate == 1000.0,
       "defaults: panic at 2x, 2x down, 1000x up");
    ok(p.min == 0 && p.max == 0 && p.target == 0 && p.concurrency == 0,
       "defaults: min 0, max unlimited, target derived, no concurrency");

    CHECK(min, -1, 0, "check: min -1 is invalid");
    CHECK(min, 5, 1, "check: min 5 with max 0 (unlimited) is valid");
    CHECK(max, 1000001, 0, "check: max above 1000000 is invalid");

    p = faas_scaler_policy_defaults();
    p.min = 5;
    p.max = 4;
    is_str(faas_scaler_policy_check(&p),
           "max must be 0 (unlimited) or at least min",
           "check: max below min is invalid, and says why");

    CHECK(target, -1, 0, "check: target -1 is invalid");
    CHECK(concurrency, -1, 0, "check: concurrency -1 is invalid");
    CHECK(idle_ms, 0, 0, "check: idle 0 is invalid");
    CHECK(utilization_pct, 0, 0, "check: utilisation 0% is invalid");
    CHECK(utilization_pct, 101, 0, "check: utilisation 101% is invalid");
    CHECK(panic_window_ms, 61000, 0,
          "check: a panic window longer than the stable one is invalid");
    CHECK(stable_window_ms, 0, 0, "check: a stable window of 0 is invalid");
    CHECK(stale_ms, 0, 0, "check: a staleness bound of 0 is invalid");
    CHECK(panic_threshold, 0.5, 0, "check: a panic threshold below 1");
    CHECK(max_scale_down_rate, 0.9, 0, "check: a down rate below 1");
    CHECK(max_scale_up_rate, NAN, 0, "check: a NaN up rate is invalid");
    CHECK(max_scale_up_rate, INFINITY, 0,
          "check: an infinite up rate is invalid");

#undef CHECK

    /* a bad policy still gives bounded counts */
    {
        faas_scaler_state_t     s;
        faas_scaler_decision_t  d;
        seg_t                   hist[SEGS] = { RUN(0, 58, 1e300) };

        memset(&p, 0xff, sizeof(p));
        p.max_scale_up_rate = NAN;
        p.panic_threshold = -INFINITY;
        faas_scaler_init(&s);
        feed(&s, &p, hist, NULL);
        d = faas_scaler_decide(&s, &p, BASE + S(58), -5, INT64_MAX);
        ok(d.desired >= 0 && d.desired <= FAAS_SCALER_MAX_REPLICAS
           && d.reason != NULL,
           "check: a garbage policy and inputs give a bounded count");
    }
}


int
main(void)
{
    test_target();
    test_decide_rows();
    test_timelines();
    test_counter_delta();
    test_sum();
    test_counter_resets();
    test_decision_fields();
    test_observe_edges();
    test_policy_check();

    return tap_done();
}
