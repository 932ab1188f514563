/*
 * Copyright (C) nginx-faas developers
 *
 * The reconcile loop's steps, called by main.c: keep the declared
 * functions and revisions in step with Redis (specs, desired counts, wake
 * signals; the scaler's decisions are autoscale.c's), plan and apply the difference with the replicas, and mirror
 * the outcome into Redis (status hashes, replica records, sweeps).
 */

#ifndef FAAS_RECONCILE_H
#define FAAS_RECONCILE_H


#include "ctl.h"


/* Reads what is due from Redis (specs, desired, wakes, sweep). */
void faas_reconcile_poll(faas_ctl_t *ctl, long long now_ms);

/* Re-reads the specs at the next poll (a message on the specs channel). */
void faas_reconcile_specs_soon(faas_ctl_t *ctl);

/* After a reconnection: re-read and rewrite everything. */
void faas_reconcile_redis_back(faas_ctl_t *ctl);

/* A message on the desired channel: "FN REV" (read its hash now). */
void faas_reconcile_desired_message(faas_ctl_t *ctl, const char *message,
    size_t len);

/* A message on the wake channel: "FN REV". */
void faas_reconcile_wake_message(faas_ctl_t *ctl, const char *message,
    size_t len);

/* Starts and removes replicas so that every revision has what it needs. */
void faas_reconcile_apply(faas_ctl_t *ctl);

/* Writes the status hashes and replica records that changed. */
void faas_reconcile_report(faas_ctl_t *ctl);

/* At exit: frees the functions and revisions. */
void faas_reconcile_free(faas_ctl_t *ctl);


#endif /* FAAS_RECONCILE_H */
