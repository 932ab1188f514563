/*
 * Copyright (C) nginx-faas developers
 *
 * The controller's side of the Redis schema (docs/redis-schema.md): what
 * it reads (specs, desired counts, wake signals, nginx's metrics) and what
 * it writes (endpoints, desired on wake, status and replica records).
 * Every function works on the main thread's link; when the link is down
 * they do nothing and say so, and the caller tries again later.
 */

#ifndef FAAS_STORE_H
#define FAAS_STORE_H


#include "ctl.h"
#include "drain.h"


/*
 * Reads <prefix>schema and <prefix>specs.  Returns 1 with the specs hash
 * reply in *specs (field, value, ...; the caller frees it), 0 when nginx
 * has not published (no schema: Redis is new or was emptied), -1 when the
 * link is down or the schema is not ours (err says so).
 */
int faas_store_read_specs(faas_ctl_t *ctl, redisReply **specs, char *err,
    size_t errlen);

/* Reads every declared revision's <prefix>desired:FN:REV request. */
int faas_store_read_desired(faas_ctl_t *ctl);

/* Records a wake's request: desired 1, reason "wake". */
void faas_store_write_wake(faas_ctl_t *ctl, faas_revision_t *rev);

/*
 * Reads the <prefix>wake sorted set; calls fn for each member that names
 * a revision, with its score (unix ms).
 */
int faas_store_read_wakes(faas_ctl_t *ctl,
    void (*fn)(faas_ctl_t *ctl, const char *function, const char *revision,
               long long at_ms));

void faas_store_remove_wake(faas_ctl_t *ctl, const char *function,
    const char *revision);

/* HSET endpoint + PUBLISH "up ..." in one MULTI/EXEC; 0 or -1. */
int faas_store_publish(faas_ctl_t *ctl, faas_replica_t *rp);

/* HDEL endpoint + PUBLISH "down ..." in one MULTI/EXEC; 0 or -1. */
int faas_store_unpublish(faas_ctl_t *ctl, const char *function,
    const char *revision, const char *id);

/* Writes a revision's status hash when it changed (or force). */
void faas_store_write_status(faas_ctl_t *ctl, faas_revision_t *rev,
    const faas_plan_summary_t *summary, int force);

/* Writes or removes a replica's record in <prefix>replicas:FN:REV. */
void faas_store_write_replica(faas_ctl_t *ctl, faas_replica_t *rp);
void faas_store_delete_replica(faas_ctl_t *ctl, faas_replica_t *rp);

/*
 * Fills reports (room for max) with every fresh nginx's view of replica
 * rp; *n is how many.  Returns 0, or -1 when Redis cannot be read.
 */
int faas_store_read_drain(faas_ctl_t *ctl, faas_replica_t *rp,
    faas_drain_report_t *reports, size_t max, size_t *n);

/*
 * Refreshes the heartbeat <prefix>controller (TTL FAAS_HEARTBEAT_TTL_MS),
 * but only while Redis shows every replica this controller has: the
 * module drops replicas missing from the endpoint hashes only while the
 * key exists, so after Redis came back empty, or while adopted replicas
 * are still being probed, it must not.  faas_store_heartbeat_end()
 * removes it at exit.
 */
void faas_store_heartbeat(faas_ctl_t *ctl, long long now_ms);
void faas_store_heartbeat_end(faas_ctl_t *ctl);

/*
 * Makes Redis match the replicas: endpoint records that no ready (or
 * adopting) replica backs are removed (and announced "down"), ready
 * replicas missing from Redis are marked to be published again, replica
 * records and status hashes of replicas and revisions that are gone are
 * deleted.  Returns 0, or -1 when the link broke.
 */
int faas_store_sweep(faas_ctl_t *ctl);


#endif /* FAAS_STORE_H */
