/*
 * Copyright (C) nginx-faas developers
 *
 * Reconcile planning (see plan.h).  Level-triggered: the plan is computed
 * afresh from what is desired and what exists every time anything changes,
 * so a missed event costs nothing but a loop turn.
 */

#include "plan.h"


static const char  *faas_plan_state_names[] = {
    "ok", "starting", "backoff", "error"
};


static int
faas_plan_counted(const faas_plan_replica_t *rp)
{
    return rp->kind != FAAS_PLAN_LEAVING && !rp->outdated;
}


/*
 * The order in which replicas are removed: the lowest kind first, the
 * newest first within a kind, the index last so that the order is total.
 * Returns < 0 when replica a goes before replica b.
 */

static int
faas_plan_order(const faas_plan_replica_t *replicas, size_t a, size_t b)
{
    const faas_plan_replica_t  *ra, *rb;

    ra = &replicas[a];
    rb = &replicas[b];

    if (ra->kind != rb->kind) {
        return ra->kind < rb->kind ? -1 : 1;
    }

    if (ra->started_ms != rb->started_ms) {
        return ra->started_ms > rb->started_ms ? -1 : 1;
    }

    return a < b ? -1 : (a > b);
}


/*
 * The next replica of revision r to remove after `after` (nreplicas for
 * the first): the first in removal order that comes after it.  Returns
 * nreplicas when there is none.  Allocates nothing: each call walks the
 * table once.
 */

static size_t
faas_plan_victim(size_t r, const faas_plan_replica_t *replicas,
    size_t nreplicas, size_t after)
{
    size_t  i, best;

    best = nreplicas;

    for (i = 0; i < nreplicas; i++) {
        if (replicas[i].revision != r || !faas_plan_counted(&replicas[i])
            || (after < nreplicas && faas_plan_order(replicas, i, after) <= 0))
        {
            continue;
        }

        if (best == nreplicas || faas_plan_order(replicas, i, best) < 0) {
            best = i;
        }
    }

    return best;
}


static void
faas_plan_add(faas_plan_action_t *actions, size_t max_actions, size_t *n,
    faas_plan_verb_t verb, size_t revision, size_t replica)
{
    if (*n < max_actions) {
        actions[*n].verb = verb;
        actions[*n].revision = revision;
        actions[*n].replica = replica;
    }

    (*n)++;
}


size_t
faas_plan_compute(const faas_plan_revision_t *revisions, size_t nrevisions,
    const faas_plan_replica_t *replicas, size_t nreplicas,
    faas_plan_action_t *actions, size_t max_actions)
{
    int     counted, ready;
    size_t  r, i, n, victim;

    n = 0;

    for (i = 0; i < nreplicas; i++) {
        if ((replicas[i].revision == FAAS_PLAN_UNDECLARED
             || replicas[i].revision >= nrevisions)
            && replicas[i].kind != FAAS_PLAN_LEAVING)
        {
            faas_plan_add(actions, max_actions, &n, FAAS_PLAN_REMOVE,
                          replicas[i].revision, i);
        }
    }

    for (r = 0; r < nrevisions; r++) {
        counted = 0;
        ready = 0;

        for (i = 0; i < nreplicas; i++) {
            if (replicas[i].revision == r && faas_plan_counted(&replicas[i]))
            {
                counted++;
                ready += (replicas[i].kind == FAAS_PLAN_READY);
            }
        }

        for (i = 0; i < nreplicas; i++) {
            if (replicas[i].revision == r && replicas[i].outdated
                && replicas[i].kind != FAAS_PLAN_LEAVING
                && (replicas[i].kind != FAAS_PLAN_READY
                    || ready >= revisions[r].desired))
            {
                faas_plan_add(actions, max_actions, &n, FAAS_PLAN_REMOVE, r,
                              i);
            }
        }

        while (counted < revisions[r].desired && revisions[r].may_start) {
            faas_plan_add(actions, max_actions, &n, FAAS_PLAN_START, r, 0);
            counted++;
        }

        victim = nreplicas;

        while (counted > revisions[r].desired) {
            victim = faas_plan_victim(r, replicas, nreplicas, victim);
            faas_plan_add(actions, max_actions, &n, FAAS_PLAN_REMOVE, r,
                          victim);
            counted--;
        }
    }

    return n;
}


void
faas_plan_summarize(const faas_plan_revision_t *rev, size_t revision,
    const faas_plan_replica_t *replicas, size_t nreplicas,
    faas_plan_summary_t *summary)
{
    int     starting, backoff, refused;
    size_t  i;

    starting = 0;
    backoff = 0;
    refused = 0;
    summary->running = 0;
    summary->ready = 0;

    for (i = 0; i < nreplicas; i++) {
        if (replicas[i].revision != revision) {
            continue;
        }

        switch (replicas[i].kind) {

        case FAAS_PLAN_BACKOFF:
            backoff++;
            refused += replicas[i].start_error;
            continue;

        case FAAS_PLAN_READY:
            summary->ready++;
            break;

        case FAAS_PLAN_STARTING:
        case FAAS_PLAN_ADOPTING:
            starting++;
            break;

        case FAAS_PLAN_LEAVING:
            break;
        }

        summary->running++;
    }

    if (refused || (!rev->may_start && rev->desired > 0)) {
        summary->state = FAAS_STATUS_ERROR;

    } else if (backoff) {
        summary->state = FAAS_STATUS_BACKOFF;

    } else if (starting || summary->ready < rev->desired) {
        summary->state = FAAS_STATUS_STARTING;

    } else {
        summary->state = FAAS_STATUS_OK;
    }
}


const char *
faas_plan_state_name(faas_plan_state_t state)
{
    return faas_plan_state_names[state];
}
