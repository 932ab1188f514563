/*
 * Copyright (C) nginx-faas developers
 *
 * A replica's life: started (or adopted), probed until ready, published,
 * probed every second, and on the way out unpublished, drained and
 * stopped.  A replica that fails is unpublished at once and started again
 * under the same id after a capped exponential backoff.  Slow runtime
 * calls run as jobs on the pool; their results come back to
 * faas_replica_job_done() on the main thread.
 */

#ifndef FAAS_REPLICA_H
#define FAAS_REPLICA_H


#include "ctl.h"


/* Starts a new replica of rev.  Returns 0, or -1 (logged) when it cannot. */
int faas_replica_start(faas_ctl_t *ctl, faas_revision_t *rev);

/*
 * Records a replica found by the runtime at start-up: a running one is
 * adopted (probed once its revision's spec is known), one that has ended
 * is cleared away.
 */
void faas_replica_found(faas_ctl_t *ctl, const faas_replica_info_t *info);

/* Probes adopted replicas whose spec is now known. */
void faas_replica_adopt_pending(faas_ctl_t *ctl);

/*
 * Takes a replica out for good, the cheapest safe way for its state:
 * forgotten when nothing runs, cancelled and stopped while it starts,
 * unpublished, drained and stopped when it may take traffic.
 */
void faas_replica_remove(faas_ctl_t *ctl, faas_replica_t *rp);

/* Handles a job that came back from the pool and frees it. */
void faas_replica_job_done(faas_ctl_t *ctl, faas_job_t *job);

/*
 * Runs what is due: restarts after backoff, liveness probes, stop
 * retries, (un)publishing that waited for Redis, drain checks.
 */
void faas_replica_tick(faas_ctl_t *ctl, long long now_ms);

/* Probes every ready replica at the next tick (a child process ended). */
void faas_replica_probe_soon(faas_ctl_t *ctl);

faas_plan_kind_t faas_replica_plan_kind(const faas_replica_t *rp);

/* At exit: frees every replica (they keep running). */
void faas_replica_free_all(faas_ctl_t *ctl);


#endif /* FAAS_REPLICA_H */
