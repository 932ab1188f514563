/*
 * Copyright (C) nginx-faas developers
 *
 * The scaling policy: turns one revision's metrics history into the number
 * of replicas it should have.  Knative's KPA is the model: a target
 * concurrency per replica, a 60 s stable window, a 6 s panic window, at most
 * 2x down and 1000x up per decision, min and max bounds, scale to zero after
 * an idle period, and no scale-down on missing metrics.  docs/scaling.md
 * describes the policy for users.
 *
 * The library is pure: no I/O, no allocation, no clock, no globals.  Time
 * is passed in as Unix milliseconds.  The caller owns every structure; the
 * functions only read or fill what they are given.  A state is used by one
 * thread at a time; distinct states may be used by distinct threads at once.
 *
 * How the controller uses it, per revision:
 *
 *     faas_scaler_init(&state);                          once
 *     every decision tick (2 s by default):
 *         sample = faas_scaler_sum(snapshots, n, now, policy.stale_ms);
 *             (or a sample with complete = 0 when Redis cannot be read)
 *         faas_scaler_observe(&state, &sample);
 *         decision = faas_scaler_decide(&state, &policy, now, ready,
 *                                       desired);
 *         desired = decision.desired;
 */

#ifndef FAAS_SCALER_H
#define FAAS_SCALER_H


#include <stddef.h>
#include <stdint.h>


/*
 * How many samples a state keeps.  At the default tick of 2 s the 60 s
 * stable window needs 30; 256 cover a 60 s window down to a tick of about
 * 250 ms.  With a shorter tick or a longer window, the windows are cut to
 * the newest 256 samples.
 */
#define FAAS_SCALER_HISTORY            256

/* Knative's defaults, which users know */
#define FAAS_SCALER_DEFAULT_TARGET     100      /* concurrency per replica */
#define FAAS_SCALER_UTILIZATION_PCT    70
#define FAAS_SCALER_IDLE_MS            60000
#define FAAS_SCALER_STABLE_WINDOW_MS   60000
#define FAAS_SCALER_PANIC_WINDOW_MS    6000
#define FAAS_SCALER_STALE_MS           5000
#define FAAS_SCALER_PANIC_THRESHOLD    2.0
#define FAAS_SCALER_MAX_DOWN_RATE      2.0
#define FAAS_SCALER_MAX_UP_RATE        1000.0

/* the largest count a decision gives, whatever the inputs */
#define FAAS_SCALER_MAX_REPLICAS       1000000000


/*
 * How one revision is scaled.  The first five fields come from the
 * function's spec (nginx.conf "scale min= max= target= idle=" and
 * "concurrency"); the rest are controller-wide settings.
 */
typedef struct {
    int64_t   min;                  /* fewest replicas; 0 allows zero */
    int64_t   max;                  /* most replicas; 0: unlimited */
    int64_t   target;               /* concurrency per replica; 0: derive */
    int64_t   concurrency;          /* hard limit per replica; 0: none */
    int64_t   idle_ms;              /* no traffic this long: scale to zero */

    int64_t   utilization_pct;      /* share of "concurrency" to target */
    int64_t   stable_window_ms;
    int64_t   panic_window_ms;
    int64_t   stale_ms;             /* metrics older than this are missing */
    double    panic_threshold;      /* panic at this many times the ready */
    double    max_scale_down_rate;  /* at most this many times fewer */
    double    max_scale_up_rate;    /* at most this many times more */
} faas_scaler_policy_t;


/*
 * One decision tick's view of a revision's load, summed over every nginx
 * instance that reported recently (faas_scaler_sum builds it).
 */
typedef struct {
    int64_t   at_ms;                /* when the sample was taken */
    double    concurrency;          /* in flight, parked requests included */
    int64_t   parked;               /* waiting for a replica slot */
    uint64_t  requests_delta;       /* requests since the previous sample */
    int64_t   last_request_ms;      /* latest request seen; 0: none */
    int       complete;             /* 0: some metrics were missing */
} faas_scaler_sample_t;


/*
 * One nginx instance's snapshot of a revision, as the module writes it
 * every metrics interval.  "requests" counts from the creation of that
 * nginx's shared zone and starts again from 0 when the nginx restarts.
 */
typedef struct {
    int64_t   at_ms;                /* when nginx wrote it */
    int64_t   in_flight;            /* holding a slot, plus parked */
    int64_t   parked;
    uint64_t  requests;             /* absolute counter */
    uint64_t  requests_before;      /* this instance's counter at the
                                       previous tick; 0 if none was seen */
    int64_t   last_request_ms;      /* 0: none since the zone was created */
} faas_scaler_snapshot_t;


/* internal: what the windows need of a complete sample */
typedef struct {
    int64_t   at_ms;
    double    concurrency;
} faas_scaler_point_t;


/*
 * A revision's history and panic mode.  The caller allocates it (it holds
 * no pointer, so it may be copied, embedded or kept in shared memory),
 * initialises it with faas_scaler_init and otherwise treats it as opaque.
 */
typedef struct {
    faas_scaler_point_t   ring[FAAS_SCALER_HISTORY];   /* complete samples */
    size_t                next;             /* where the next one goes */
    size_t                count;

    faas_scaler_sample_t  latest;           /* the newest, even incomplete */
    int                   has_latest;

    int64_t               active_ms;        /* latest evidence of traffic */
    int                   has_active;
    int64_t               observed_since_ms;    /* start of the unbroken run
                                                   of complete samples */
    int                   observing;

    int                   panicking;
    int64_t               panic_since_ms;
    int64_t               panic_over_ms;    /* last tick over the threshold */
} faas_scaler_state_t;


/*
 * What faas_scaler_decide answers.  "reason" is a static string for logs
 * and the status page (never freed, never NULL), one of:
 *
 *   "stable"                         the stable window's average
 *   "panic"                          panic mode: the larger window's need,
 *                                    never below the current count
 *   "idle: scale to zero"
 *   "idle: scaling down toward zero" idle, but at most 2x down per tick
 *   "kept at 1: recent traffic"      min 0, traffic within idle
 *   "kept at 1: not idle long enough"  no traffic seen, but not yet watched
 *                                    for a whole idle period
 *   "kept at 1: requests parked"
 *   "limited by max scale-down rate"
 *   "limited by max scale-up rate"
 *   "bounded by min", "bounded by max"
 *   "no metrics yet: frozen"         empty history: the current count
 *   "metrics stale: frozen", "metrics incomplete: frozen"
 *                                    no scale-down on missing metrics
 *   "metrics stale: frozen, scaling up",
 *   "metrics incomplete: frozen, scaling up"
 *                                    the complete samples ask for more
 */
typedef struct {
    int64_t       desired;
    const char   *reason;
    int           panicking;
    int64_t       panic_since_ms;       /* when panic began; 0: not panicking */
    int           frozen;               /* metrics missing, stale, or none */
    double        target;               /* faas_scaler_target() */
    double        stable_concurrency;   /* window averages; 0 with no data */
    double        panic_concurrency;
    int64_t       stable_desired;       /* ceil(average / target) */
    int64_t       panic_desired;
} faas_scaler_decision_t;


/*
 * Returns the default policy: min 0, max 0 (unlimited), target 0 (derived),
 * concurrency 0 (none), idle 60 s, 70% utilisation, windows of 60 s and
 * 6 s, stale after 5 s, panic at 2x, at most 2x down and 1000x up.
 */
faas_scaler_policy_t faas_scaler_policy_defaults(void);

/*
 * Checks a policy, such as one built from a spec read from Redis.  Returns
 * NULL when it is valid, else a static sentence naming the bad field.
 * faas_scaler_decide never fails on a bad policy, but its counts are then
 * only guaranteed to lie within 0 and FAAS_SCALER_MAX_REPLICAS.
 */
const char *faas_scaler_policy_check(const faas_scaler_policy_t *p);

/*
 * Returns the concurrency one replica should carry: "target" when set,
 * else utilization_pct of "concurrency" when set, else utilization_pct of
 * FAAS_SCALER_DEFAULT_TARGET (70 with the defaults).  Never below 0.01.
 */
double faas_scaler_target(const faas_scaler_policy_t *p);

/*
 * Returns how many requests an nginx instance counted since the previous
 * tick, given its counter then ("before") and now.  A counter that went
 * down means the nginx restarted: the new value is the delta, never a
 * negative.
 */
uint64_t faas_scaler_counter_delta(uint64_t before, uint64_t now);

/*
 * Sums the snapshots of one revision from every nginx instance into the
 * sample of the tick at now_ms.  A snapshot older than stale_ms is left
 * out and makes the sample incomplete, and so does an empty array (no
 * nginx reported).  The caller keeps each instance's "requests" to pass it
 * as "requests_before" at the next tick, and keeps the old value while the
 * instance is stale, so that no request is lost.
 */
faas_scaler_sample_t faas_scaler_sum(const faas_scaler_snapshot_t *snaps,
    size_t n, int64_t now_ms, int64_t stale_ms);

/* Empties a state: no history, not panicking. */
void faas_scaler_init(faas_scaler_state_t *s);

/*
 * Adds one sample, normally one per tick in time order.  Incomplete
 * samples never enter the averages but still count as evidence of
 * traffic, and they restart the period that must be watched before an
 * idle revision may go to zero.  A negative count is read as 0 and a
 * concurrency that is not a finite number makes the sample incomplete.
 * Returns 1 when the sample is older than the previous one (the clock was
 * set back) and the history was emptied before adding it, else 0.
 */
int faas_scaler_observe(faas_scaler_state_t *s,
    const faas_scaler_sample_t *sample);

/*
 * Returns the count the revision should have at now_ms, given the number
 * of replicas ready now and the current desired count, and updates the
 * panic mode kept in the state.  The rules, in order, are described in
 * docs/scaling.md; every count is rounded up with a tolerance of 1e-9, so
 * that an average of exactly 2 targets asks for 2 replicas, not 3.
 */
faas_scaler_decision_t faas_scaler_decide(faas_scaler_state_t *s,
    const faas_scaler_policy_t *p, int64_t now_ms, int64_t ready,
    int64_t current);


#endif /* FAAS_SCALER_H */
