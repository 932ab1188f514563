/*
 * Copyright (C) nginx-faas developers
 *
 * Reconcile planning: from the desired count of every declared revision
 * and the replicas that exist, the replicas to start and the ones to
 * remove; and a revision's status summary.  Pure and table-tested: the
 * caller turns actions into runtime calls.
 */

#ifndef FAAS_PLAN_H
#define FAAS_PLAN_H


#include <stddef.h>


#define FAAS_PLAN_UNDECLARED  ((size_t) -1)


/* what a replica counts as, from the planner's point of view */
typedef enum {
    FAAS_PLAN_BACKOFF = 0,   /* failed, waiting to be started again */
    FAAS_PLAN_STARTING,      /* started, not ready yet: not published */
    FAAS_PLAN_ADOPTING,      /* found at start-up, being probed */
    FAAS_PLAN_READY,         /* published */
    FAAS_PLAN_LEAVING        /* draining or stopping: counted no more */
} faas_plan_kind_t;


typedef struct {
    int  desired;
    int  may_start;          /* 0: this runtime cannot run the revision */
} faas_plan_revision_t;


typedef struct {
    size_t            revision;     /* index, or FAAS_PLAN_UNDECLARED */
    faas_plan_kind_t  kind;
    int               start_error;  /* BACKOFF: the runtime refused it */
    int               outdated;     /* runs an older spec of the revision */
    long long         started_ms;
} faas_plan_replica_t;


typedef enum {
    FAAS_PLAN_START = 0,     /* a new replica of `revision` */
    FAAS_PLAN_REMOVE         /* replica `replica` goes (drained if it was
                                published or may be) */
} faas_plan_verb_t;


typedef struct {
    faas_plan_verb_t  verb;
    size_t            revision;
    size_t            replica;
} faas_plan_action_t;


typedef enum {
    FAAS_STATUS_OK = 0,
    FAAS_STATUS_STARTING,
    FAAS_STATUS_BACKOFF,
    FAAS_STATUS_ERROR
} faas_plan_state_t;


typedef struct {
    int                running;     /* starting, adopting, ready, leaving */
    int                ready;
    faas_plan_state_t  state;
} faas_plan_summary_t;


/*
 * Fills actions (room for max_actions) and returns how many were needed,
 * which may be more than max_actions (only the first max_actions are
 * written).  Every declared revision gets as many counted replicas
 * (backoff, starting, adopting, ready) as it desires: missing ones are
 * started (unless may_start is 0), extra ones removed cheapest first
 * (backoff, then starting, adopting, ready; the newest first within each,
 * so that the warmest stay).  Replicas of undeclared revisions are all
 * removed.  Leaving replicas are left alone.  Outdated replicas (started
 * from an older spec) are replaced make-before-break: they do not count,
 * so new ones start, and a ready one is removed only once as many current
 * replicas as desired are ready (one that is not ready goes at once).
 */
size_t faas_plan_compute(const faas_plan_revision_t *revisions,
    size_t nrevisions, const faas_plan_replica_t *replicas, size_t nreplicas,
    faas_plan_action_t *actions, size_t max_actions);

/*
 * The status of revision `revision`: error when a replica waits after the
 * runtime refused to start it or when the revision cannot be run at all,
 * backoff when one waits after a crash, starting while one starts or
 * fewer than desired are ready, else ok.
 */
void faas_plan_summarize(const faas_plan_revision_t *rev, size_t revision,
    const faas_plan_replica_t *replicas, size_t nreplicas,
    faas_plan_summary_t *summary);

const char *faas_plan_state_name(faas_plan_state_t state);


#endif /* FAAS_PLAN_H */
