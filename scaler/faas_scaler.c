/*
 * Copyright (C) nginx-faas developers
 *
 * The scaling policy (see faas_scaler.h for the contract and
 * docs/scaling.md for the rules as users read them).
 */


#include <math.h>
#include <string.h>

#include "faas_scaler.h"


/* tolerance of every rounding up: 2.0000000001 replicas are 2 */
#define FAAS_SCALER_EPSILON  1e-9

/* the longest window or idle period honoured, so that now - x never wraps */
#define FAAS_SCALER_MAX_SPAN_MS  (366LL * 24 * 3600 * 1000)


static faas_scaler_policy_t faas_scaler_policy_normalize(
    const faas_scaler_policy_t *p);
static int64_t faas_scaler_clamp(int64_t v, int64_t lo, int64_t hi);
static double faas_scaler_rate(double v);
static int64_t faas_scaler_ceil(double x);
static void faas_scaler_mark_active(faas_scaler_state_t *s, int64_t at_ms);
static int faas_scaler_window(const faas_scaler_state_t *s,
    const faas_scaler_policy_t *p, int64_t now_ms, int64_t window_ms,
    double *avg);
static int faas_scaler_recently_active(const faas_scaler_state_t *s,
    const faas_scaler_policy_t *p, int64_t now_ms);


faas_scaler_policy_t
faas_scaler_policy_defaults(void)
{
    faas_scaler_policy_t  p;

    memset(&p, 0, sizeof(p));

    p.min = 0;
    p.max = 0;
    p.target = 0;
    p.concurrency = 0;
    p.idle_ms = FAAS_SCALER_IDLE_MS;

    p.utilization_pct = FAAS_SCALER_UTILIZATION_PCT;
    p.stable_window_ms = FAAS_SCALER_STABLE_WINDOW_MS;
    p.panic_window_ms = FAAS_SCALER_PANIC_WINDOW_MS;
    p.stale_ms = FAAS_SCALER_STALE_MS;
    p.panic_threshold = FAAS_SCALER_PANIC_THRESHOLD;
    p.max_scale_down_rate = FAAS_SCALER_MAX_DOWN_RATE;
    p.max_scale_up_rate = FAAS_SCALER_MAX_UP_RATE;

    return p;
}


const char *
faas_scaler_policy_check(const faas_scaler_policy_t *p)
{
    if (p->min < 0 || p->min > 1000000) {
        return "min must be between 0 and 1000000";
    }

    if (p->max < 0 || p->max > 1000000) {
        return "max must be between 0 (unlimited) and 1000000";
    }

    if (p->max != 0 && p->max < p->min) {
        return "max must be 0 (unlimited) or at least min";
    }

    if (p->target < 0 || p->target > 1000000) {
        return "target must be between 0 (derived) and 1000000";
    }

    if (p->concurrency < 0 || p->concurrency > 1000000) {
        return "concurrency must be between 0 (none) and 1000000";
    }

    if (p->idle_ms < 1 || p->idle_ms > FAAS_SCALER_MAX_SPAN_MS) {
        return "idle must be between 1 ms and 366 days";
    }

    if (p->utilization_pct < 1 || p->utilization_pct > 100) {
        return "utilization must be between 1 and 100 percent";
    }

    if (p->stable_window_ms < 1
        || p->stable_window_ms > FAAS_SCALER_MAX_SPAN_MS)
    {
        return "the stable window must be between 1 ms and 366 days";
    }

    if (p->panic_window_ms < 1 || p->panic_window_ms > p->stable_window_ms) {
        return "the panic window must be between 1 ms and the stable window";
    }

    if (p->stale_ms < 1 || p->stale_ms > FAAS_SCALER_MAX_SPAN_MS) {
        return "the staleness bound must be between 1 ms and 366 days";
    }

    /* the negated forms also catch NaN */

    if (!(p->panic_threshold >= 1.0 && p->panic_threshold <= 1000.0)) {
        return "the panic threshold must be between 1 and 1000";
    }

    if (!(p->max_scale_down_rate >= 1.0
          && p->max_scale_down_rate <= 1000000.0))
    {
        return "the max scale-down rate must be between 1 and 1000000";
    }

    if (!(p->max_scale_up_rate >= 1.0 && p->max_scale_up_rate <= 1000000.0))
    {
        return "the max scale-up rate must be between 1 and 1000000";
    }

    return NULL;
}


double
faas_scaler_target(const faas_scaler_policy_t *p)
{
    double   target;
    int64_t  pct;

    pct = faas_scaler_clamp(p->utilization_pct, 1, 100);

    if (p->target > 0) {
        target = (double) p->target;

    } else if (p->concurrency > 0) {
        /* integer product first: 10 x 70 / 100 is exactly 7 */
        target = (double) (faas_scaler_clamp(p->concurrency, 1, 1000000000)
                           * pct) / 100.0;

    } else {
        target = (double) (FAAS_SCALER_DEFAULT_TARGET * pct) / 100.0;
    }

    return target < 0.01 ? 0.01 : target;
}


uint64_t
faas_scaler_counter_delta(uint64_t before, uint64_t now)
{
    /* a counter that went down was reset by a restart of its nginx */
    return now >= before ? now - before : now;
}


faas_scaler_sample_t
faas_scaler_sum(const faas_scaler_snapshot_t *snaps, size_t n,
    int64_t now_ms, int64_t stale_ms)
{
    size_t                 i;
    uint64_t               delta;
    faas_scaler_sample_t   sample;
    const faas_scaler_snapshot_t  *sn;

    memset(&sample, 0, sizeof(sample));

    sample.at_ms = now_ms;
    sample.complete = (n > 0);

    for (i = 0; i < n; i++) {
        sn = &snaps[i];

        /* a snapshot from the future (clocks apart) counts as fresh */
        if (now_ms - sn->at_ms > stale_ms) {
            sample.complete = 0;
            continue;
        }

        sample.concurrency += (double) (sn->in_flight > 0 ? sn->in_flight
                                                           : 0);
        sample.parked += sn->parked > 0 ? sn->parked : 0;

        delta = faas_scaler_counter_delta(sn->requests_before, sn->requests);
        sample.requests_delta = (UINT64_MAX - sample.requests_delta < delta)
                                ? UINT64_MAX : sample.requests_delta + delta;

        if (sn->last_request_ms > sample.last_request_ms) {
            sample.last_request_ms = sn->last_request_ms;
        }
    }

    return sample;
}


void
faas_scaler_init(faas_scaler_state_t *s)
{
    memset(s, 0, sizeof(*s));
}


int
faas_scaler_observe(faas_scaler_state_t *s,
    const faas_scaler_sample_t *sample)
{
    int                    reset;
    int64_t                prev_last_request_ms, at;
    faas_scaler_point_t   *pt;
    faas_scaler_sample_t   in;

    in = *sample;
    in.complete = (in.complete != 0);

    if (!isfinite(in.concurrency)) {
        in.concurrency = 0;
        in.complete = 0;
    }

    if (in.concurrency < 0) {
        in.concurrency = 0;
    }

    if (in.parked < 0) {
        in.parked = 0;
    }

    if (in.last_request_ms < 0) {
        in.last_request_ms = 0;
    }

    reset = 0;

    if (s->has_latest && in.at_ms < s->latest.at_ms) {
        /* the clock was set back: the windows would mix two time lines */
        faas_scaler_init(s);
        reset = 1;
    }

    prev_last_request_ms = s->has_latest ? s->latest.last_request_ms : 0;

    /*
     * Evidence of traffic counts even in an incomplete sample: what a part
     * of the instances saw did happen.  The last request time is used only
     * when it moves, and never later than the sample, so that an nginx
     * whose clock runs ahead cannot hold a revision up for ever.
     */

    if (in.concurrency > 0 || in.parked > 0 || in.requests_delta > 0) {
        faas_scaler_mark_active(s, in.at_ms);
    }

    if (in.last_request_ms > prev_last_request_ms) {
        at = in.last_request_ms < in.at_ms ? in.last_request_ms : in.at_ms;
        faas_scaler_mark_active(s, at);
    }

    if (in.complete) {
        pt = &s->ring[s->next];
        pt->at_ms = in.at_ms;
        pt->concurrency = in.concurrency;

        s->next = (s->next + 1) % FAAS_SCALER_HISTORY;

        if (s->count < FAAS_SCALER_HISTORY) {
            s->count++;
        }

        if (!s->observing) {
            s->observing = 1;
            s->observed_since_ms = in.at_ms;
        }

    } else {
        /* a revision is idle only after a whole idle period seen unbroken */
        s->observing = 0;
    }

    s->latest = in;
    s->has_latest = 1;

    return reset;
}


faas_scaler_decision_t
faas_scaler_decide(faas_scaler_state_t *s, const faas_scaler_policy_t *p,
    int64_t now_ms, int64_t ready, int64_t current)
{
    int                      have, over, idle, active, fresh;
    int64_t                  want, lower, upper;
    const char              *frozen, *frozen_up;
    faas_scaler_policy_t     pol;
    faas_scaler_decision_t   d;

    pol = faas_scaler_policy_normalize(p);

    memset(&d, 0, sizeof(d));
    d.target = faas_scaler_target(&pol);

    current = faas_scaler_clamp(current, 0, FAAS_SCALER_MAX_REPLICAS);
    ready = faas_scaler_clamp(ready, 0, FAAS_SCALER_MAX_REPLICAS);

    if (!s->has_latest) {
        d.frozen = 1;
        want = current;
        d.reason = "no metrics yet: frozen";
        goto bounds;
    }

    fresh = (now_ms - s->latest.at_ms <= pol.stale_ms);

    frozen = NULL;
    frozen_up = NULL;

    if (!s->latest.complete) {
        frozen = "metrics incomplete: frozen";
        frozen_up = "metrics incomplete: frozen, scaling up";

    } else if (!fresh) {
        frozen = "metrics stale: frozen";
        frozen_up = "metrics stale: frozen, scaling up";
    }

    have = faas_scaler_window(s, &pol, now_ms, pol.stable_window_ms,
                              &d.stable_concurrency);
    (void) faas_scaler_window(s, &pol, now_ms, pol.panic_window_ms,
                              &d.panic_concurrency);

    d.stable_desired = faas_scaler_ceil(d.stable_concurrency / d.target);
    d.panic_desired = faas_scaler_ceil(d.panic_concurrency / d.target);

    /*
     * Panic mode starts when the panic window asks for panic_threshold
     * times the ready replicas, counting no ready replica as one, so that
     * a burst on a revision whose first replica is still starting starts
     * the others at once.  It ends a stable window after the last tick
     * over the threshold.  Missing metrics neither start nor end it.
     */

    over = have
           && (double) d.panic_desired
              >= pol.panic_threshold * (double) (ready > 0 ? ready : 1)
                 - FAAS_SCALER_EPSILON;

    if (frozen == NULL) {
        if (over) {
            if (!s->panicking) {
                s->panicking = 1;
                s->panic_since_ms = now_ms;
            }

            s->panic_over_ms = now_ms;

        } else if (s->panicking
                   && now_ms - s->panic_over_ms >= pol.stable_window_ms)
        {
            s->panicking = 0;
        }
    }

    want = d.stable_desired;
    d.reason = "stable";

    if (s->panicking) {
        /* never down while panicking; the stable need may be the larger */
        if (d.panic_desired > want) {
            want = d.panic_desired;
        }

        if (current > want) {
            want = current;
        }

        d.reason = "panic";
    }

    /* a parked request is a fact even in partial metrics: it needs one */

    if (want < 1 && s->latest.parked > 0 && fresh) {
        want = 1;
        d.reason = "kept at 1: requests parked";
    }

    upper = faas_scaler_ceil((double) (current > 0 ? current : 1)
                             * pol.max_scale_up_rate);

    if (frozen != NULL) {
        d.frozen = 1;

        if (want > upper) {
            want = upper;
        }

        if (want > current) {
            d.reason = frozen_up;

        } else {
            want = current;
            d.reason = frozen;
        }

        goto bounds;
    }

    active = faas_scaler_recently_active(s, &pol, now_ms);

    idle = pol.min == 0
           && !s->panicking
           && !active
           && s->observing
           && now_ms - s->observed_since_ms >= pol.idle_ms;

    if (idle) {
        want = 0;
        d.reason = "idle: scale to zero";

    } else if (pol.min == 0 && want < 1) {
        if (active) {
            want = 1;
            d.reason = "kept at 1: recent traffic";

        } else if (current >= 1) {
            want = 1;
            d.reason = "kept at 1: not idle long enough";
        }
    }

    /* min first, so that a rate limit it overrides is not the reason */

    if (want < pol.min) {
        want = pol.min;
        d.reason = "bounded by min";
    }

    /* the last step, from 1 to 0, is the idle rule's alone */

    lower = (idle && current <= 1)
            ? 0 : faas_scaler_ceil((double) current / pol.max_scale_down_rate);

    if (want < lower) {
        want = lower;
        d.reason = idle ? "idle: scaling down toward zero"
                        : "limited by max scale-down rate";
    }

    if (want > upper) {
        want = upper;
        d.reason = "limited by max scale-up rate";
    }

bounds:

    d.panicking = s->panicking;
    d.panic_since_ms = s->panicking ? s->panic_since_ms : 0;

    if (want < pol.min) {
        want = pol.min;
        d.reason = "bounded by min";
    }

    if (pol.max > 0 && want > pol.max) {
        want = pol.max;
        d.reason = "bounded by max";
    }

    d.desired = faas_scaler_clamp(want, 0, FAAS_SCALER_MAX_REPLICAS);

    return d;
}


/*
 * Returns a copy of the policy with every value brought into a range where
 * the arithmetic is defined, so that a bad policy gives bounded counts
 * rather than undefined behaviour.
 */

static faas_scaler_policy_t
faas_scaler_policy_normalize(const faas_scaler_policy_t *p)
{
    faas_scaler_policy_t  n;

    n = *p;

    n.min = faas_scaler_clamp(n.min, 0, FAAS_SCALER_MAX_REPLICAS);
    n.max = faas_scaler_clamp(n.max, 0, FAAS_SCALER_MAX_REPLICAS);
    n.target = faas_scaler_clamp(n.target, 0, FAAS_SCALER_MAX_REPLICAS);
    n.concurrency = faas_scaler_clamp(n.concurrency, 0,
                                      FAAS_SCALER_MAX_REPLICAS);
    n.idle_ms = faas_scaler_clamp(n.idle_ms, 1, FAAS_SCALER_MAX_SPAN_MS);
    n.utilization_pct = faas_scaler_clamp(n.utilization_pct, 1, 100);
    n.stable_window_ms = faas_scaler_clamp(n.stable_window_ms, 1,
                                           FAAS_SCALER_MAX_SPAN_MS);
    n.panic_window_ms = faas_scaler_clamp(n.panic_window_ms, 1,
                                          FAAS_SCALER_MAX_SPAN_MS);
    n.stale_ms = faas_scaler_clamp(n.stale_ms, 0, FAAS_SCALER_MAX_SPAN_MS);
    n.panic_threshold = faas_scaler_rate(n.panic_threshold);
    n.max_scale_down_rate = faas_scaler_rate(n.max_scale_down_rate);
    n.max_scale_up_rate = faas_scaler_rate(n.max_scale_up_rate);

    return n;
}


static int64_t
faas_scaler_clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}


/* a factor of at least 1 and at most 1e9; NaN is read as 1 */

static double
faas_scaler_rate(double v)
{
    if (!(v >= 1.0)) {
        return 1.0;
    }

    return v > 1e9 ? 1e9 : v;
}


/*
 * Rounds a count of replicas up, with the library's tolerance, and clamps
 * it to 0 .. FAAS_SCALER_MAX_REPLICAS (NaN is 0).
 */

static int64_t
faas_scaler_ceil(double x)
{
    if (!(x > FAAS_SCALER_EPSILON)) {
        return 0;
    }

    if (x >= (double) FAAS_SCALER_MAX_REPLICAS) {
        return FAAS_SCALER_MAX_REPLICAS;
    }

    return (int64_t) ceil(x - FAAS_SCALER_EPSILON);
}


static void
faas_scaler_mark_active(faas_scaler_state_t *s, int64_t at_ms)
{
    if (!s->has_active || at_ms > s->active_ms) {
        s->active_ms = at_ms;
        s->has_active = 1;
    }
}


/*
 * Averages the concurrency of the complete samples taken in the window
 * (now_ms - window_ms, now_ms], over the samples present, not over the
 * time covered.  With none in the window, the newest complete sample is
 * used if it is fresh.  Returns 1 with *avg set, or 0 (and *avg 0) when
 * there is nothing to use.
 */

static int
faas_scaler_window(const faas_scaler_state_t *s,
    const faas_scaler_policy_t *p, int64_t now_ms, int64_t window_ms,
    double *avg)
{
    size_t                      i, n;
    double                      sum;
    const faas_scaler_point_t  *pt, *newest;

    *avg = 0;

    if (s->count == 0) {
        return 0;
    }

    sum = 0;
    n = 0;
    newest = &s->ring[(s->next + FAAS_SCALER_HISTORY - 1)
                      % FAAS_SCALER_HISTORY];

    for (i = 0; i < s->count; i++) {
        pt = &s->ring[(s->next + FAAS_SCALER_HISTORY - 1 - i)
                      % FAAS_SCALER_HISTORY];

        if (pt->at_ms <= now_ms - window_ms) {
            break;
        }

        sum += pt->concurrency;
        n++;
    }

    if (n > 0) {
        *avg = sum / (double) n;
        return 1;
    }

    if (now_ms - newest->at_ms <= p->stale_ms) {
        *avg = newest->concurrency;
        return 1;
    }

    return 0;
}


/*
 * Returns 1 when the revision had traffic within the idle period before
 * now_ms, or has requests in flight or parked in its newest sample.
 */

static int
faas_scaler_recently_active(const faas_scaler_state_t *s,
    const faas_scaler_policy_t *p, int64_t now_ms)
{
    if (s->latest.concurrency > 0 || s->latest.parked > 0) {
        return 1;
    }

    return s->has_active && now_ms - s->active_ms < p->idle_ms;
}
