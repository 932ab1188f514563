/*
 * Copyright (C) nginx-faas developers
 *
 * The scaler in the controller: every decision tick (--tick) the metrics
 * of every nginx are read from Redis and summed per revision, the scaling
 * policy (scaler/faas_scaler.h) decides, and the decision is written to
 * <prefix>desired:FN:REV (replicas, reason, at_ms, by "controller") and
 * reconciled.  One faas_scaler_state_t per revision keeps the history.
 *
 * Who owns a revision's count: with --scaler on, the scaler, unless the
 * desired hash has a "by" other than "controller" (a count written by
 * hand, which the scaler then leaves alone until "by" is removed or set
 * back to "controller"); with --scaler off, whoever writes the hash.  A
 * wake is always the controller's: it takes a revision from 0 to 1 and
 * gives the count back to the scaler.  docs/controller.md says the same
 * for operators.
 */

#ifndef FAAS_AUTOSCALE_H
#define FAAS_AUTOSCALE_H


#include "ctl.h"
#include "store.h"


/*
 * When a tick is due: reads every nginx's metrics, and for every declared
 * revision feeds a sample to the scaler and, unless its count is set by
 * hand, decides, writes the decision when it changed and marks the
 * controller for a reconcile.  Runs while Redis is away too: the samples
 * are then incomplete, so nothing is scaled down.
 */
void faas_autoscale_tick(faas_ctl_t *ctl, long long now_ms);

/*
 * A wake was acted on (rev->requested is already at least 1): the wake is
 * written to the desired hash as the controller's, and the scaler sees it
 * as traffic (a request parked, in an incomplete sample), so that its
 * next decisions keep the replica for the idle period even before nginx's
 * metrics show the request.
 */
void faas_autoscale_woken(faas_ctl_t *ctl, faas_revision_t *rev,
    long long now_ms);

/*
 * A revision's desired hash as read (the 200 ms poll, or a message on
 * <prefix>ch:desired): takes a count by hand, notices a hand-written
 * count given back to the scaler, or one the scaler owns that someone
 * overwrote (rewritten at the next tick).  A faas_store_desired_pt.
 */
void faas_autoscale_desired(faas_ctl_t *ctl, faas_revision_t *rev,
    const faas_store_desired_t *desired);

/* After Redis came back (maybe emptied): the decisions are written again. */
void faas_autoscale_redis_back(faas_ctl_t *ctl);

/* Frees what the revision holds for the scaler. */
void faas_autoscale_free(faas_revision_t *rev);


#endif /* FAAS_AUTOSCALE_H */
