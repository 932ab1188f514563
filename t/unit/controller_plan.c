/*
 * Unit tests of controller/plan.c: which replicas start and which go, as
 * tables of revisions and replicas, and the status summary.
 */

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "plan.h"


#define U  FAAS_PLAN_UNDECLARED
#define B  FAAS_PLAN_BACKOFF
#define S  FAAS_PLAN_STARTING
#define A  FAAS_PLAN_ADOPTING
#define R  FAAS_PLAN_READY
#define L  FAAS_PLAN_LEAVING


typedef struct {
    const char            *name;
    faas_plan_revision_t   revisions[3];
    size_t                 nrevisions;
    faas_plan_replica_t    replicas[6];
    size_t                 nreplicas;
    const char            *want;     /* "s0 s0 r2": start rev 0 twice,
                                        remove replica 2 */
} plan_case_t;


static const plan_case_t  cases[] = {
    { "nothing desired, nothing there", { { 0, 1 } }, 1, { { 0 } }, 0, "" },

    { "min 1 from zero starts one", { { 1, 1 } }, 1, { { 0 } }, 0, "s0" },

    { "desired 3 with one ready starts two", { { 3, 1 } }, 1,
      { { 0, R, 0, 0, 100 } }, 1, "s0 s0" },

    { "starting and backoff count: no duplicate start", { { 2, 1 } }, 1,
      { { 0, S, 0, 0, 100 }, { 0, B, 0, 0, 50 } }, 2, "" },

    { "leaving replicas do not count", { { 1, 1 } }, 1,
      { { 0, L, 0, 0, 100 } }, 1, "s0" },

    { "may not start: nothing started", { { 2, 0 } }, 1, { { 0 } }, 0, "" },

    { "2 to 1 removes the newest ready", { { 1, 1 } }, 1,
      { { 0, R, 0, 0, 100 }, { 0, R, 0, 0, 200 } }, 2, "r1" },

    { "cheapest first: backoff, starting, adopting, ready", { { 1, 1 } }, 1,
      { { 0, R, 0, 0, 100 }, { 0, A, 0, 0, 100 }, { 0, S, 0, 0, 300 },
        { 0, B, 0, 0, 50 } }, 4, "r3 r2 r1" },

    { "to zero removes all but leaving", { { 0, 1 } }, 1,
      { { 0, R, 0, 0, 1 }, { 0, L, 0, 0, 2 }, { 0, S, 0, 0, 3 } }, 3,
      "r2 r0" },

    { "undeclared replicas go, leaving ones stay", { { 1, 1 } }, 1,
      { { 0, R, 0, 0, 1 }, { U, R, 0, 0, 2 }, { U, L, 0, 0, 3 },
        { 5, A, 0, 0, 4 } }, 4, "r1 r3" },

    { "revisions are planned independently", { { 1, 1 }, { 2, 1 }, { 0, 1 } },
      3, { { 0, R, 0, 0, 1 }, { 1, R, 0, 0, 2 }, { 2, R, 0, 0, 3 } }, 3,
      "s1 r2" },

    { "equal start times: a stable order, no replica twice", { { 1, 1 } },
      1, { { 0, R, 0, 0, 7 }, { 0, R, 0, 0, 7 }, { 0, R, 0, 0, 7 } }, 3,
      "r0 r1" },
};


/* an outdated replica: started from an older spec */

static const faas_plan_replica_t  outdated_ready = { 0, R, 0, 1, 10 };
static const faas_plan_replica_t  outdated_backoff = { 0, B, 0, 1, 10 };
static const faas_plan_replica_t  current_ready = { 0, R, 0, 0, 20 };
static const faas_plan_replica_t  current_starting = { 0, S, 0, 0, 20 };


static void
format_actions(const faas_plan_action_t *a, size_t n, char *buf, size_t size)
{
    size_t  i, len;

    buf[0] = '\0';
    len = 0;

    for (i = 0; i < n && len < size; i++) {
        len += snprintf(buf + len, size - len, "%s%c%zu", i ? " " : "",
                        a[i].verb == FAAS_PLAN_START ? 's' : 'r',
                        a[i].verb == FAAS_PLAN_START ? a[i].revision
                                                     : a[i].replica);
    }
}


static void
run(const faas_plan_revision_t *revs, size_t nrevs,
    const faas_plan_replica_t *reps, size_t nreps, const char *want,
    const char *name)
{
    char                buf[256];
    size_t              n;
    faas_plan_action_t  actions[16];

    n = faas_plan_compute(revs, nrevs, reps, nreps, actions, 16);
    format_actions(actions, n, buf, sizeof(buf));
    is_str(buf, want, name);
}


int
main(void)
{
    size_t                i, n;
    faas_plan_action_t    one[1];
    faas_plan_replica_t   reps[4];
    faas_plan_summary_t   sum;
    faas_plan_revision_t  rev = { 1, 1 }, two = { 2, 1 };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run(cases[i].revisions, cases[i].nrevisions, cases[i].replicas,
            cases[i].nreplicas, cases[i].want, cases[i].name);
    }

    n = faas_plan_compute(&two, 1, NULL, 0, one, 1);
    is_int(n, 2, "returns how many actions are needed beyond the room");

    /* make-before-break over a changed spec */

    reps[0] = outdated_ready;
    run(&rev, 1, reps, 1, "s0", "outdated ready: a current one starts first");

    reps[1] = current_starting;
    run(&rev, 1, reps, 2, "", "outdated ready stays while its successor "
        "starts");

    reps[1] = current_ready;
    run(&rev, 1, reps, 2, "r0", "outdated ready goes once the successor is "
        "ready");

    reps[0] = outdated_backoff;
    run(&rev, 1, reps, 1, "r0 s0", "an outdated replica that is not ready "
        "goes at once");

    /* summaries */

    reps[0] = (faas_plan_replica_t) { 0, R, 0, 0, 1 };
    faas_plan_summarize(&rev, 0, reps, 1, &sum);
    is_int(sum.state, FAAS_STATUS_OK, "one ready of one: ok");
    is_int(sum.ready, 1, "ready 1");
    is_int(sum.running, 1, "running 1");

    faas_plan_summarize(&two, 0, reps, 1, &sum);
    is_str(faas_plan_state_name(sum.state), "starting",
           "fewer ready than desired: starting");

    reps[1] = (faas_plan_replica_t) { 0, B, 0, 0, 1 };
    faas_plan_summarize(&two, 0, reps, 2, &sum);
    is_str(faas_plan_state_name(sum.state), "backoff",
           "one waiting after a crash: backoff");
    is_int(sum.running, 1, "a replica in backoff does not run");

    reps[1].start_error = 1;
    faas_plan_summarize(&two, 0, reps, 2, &sum);
    is_str(faas_plan_state_name(sum.state), "error",
           "the runtime refused to start it: error");

    rev.may_start = 0;
    faas_plan_summarize(&rev, 0, NULL, 0, &sum);
    is_str(faas_plan_state_name(sum.state), "error",
           "desired but cannot run: error");

    rev.desired = 0;
    faas_plan_summarize(&rev, 0, NULL, 0, &sum);
    is_str(faas_plan_state_name(sum.state), "ok",
           "cannot run but nothing desired: ok");

    reps[0] = (faas_plan_replica_t) { 1, S, 0, 0, 1 };
    reps[1] = (faas_plan_replica_t) { 0, L, 0, 0, 1 };
    faas_plan_summarize(&rev, 0, reps, 2, &sum);
    is_int(sum.running, 1, "a draining replica still runs; another "
           "revision's is not counted");

    return tap_done();
}
