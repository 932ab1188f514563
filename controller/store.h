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


#define FAAS_STORE_INSTANCES_MAX  256


/*
 * Reads <prefix>schema and <prefix>specs.  Returns 1 with the specs hash
 * reply in *specs (field, value, ...; the caller frees it), 0 when nginx
 * has not published (no schema: Redis is new or was emptied), -1 when the
 * link is down or the schema is not ours (err says so).
 */
int faas_store_read_specs(faas_ctl_t *ctl, redisReply **specs, char *err,
    size_t errlen);

/* the "by" of the counts the controller writes (its scaler's, and wakes) */
#define FAAS_STORE_BY_CONTROLLER  "controller"


/* a <prefix>desired:FN:REV hash as read */
typedef struct {
    int   present;                  /* the hash has one of the fields */
    int   replicas;                 /* -1: missing or not a count */
    char  reason[FAAS_REASON_MAX];  /* "" when missing */
    char  by[64];                   /* "" when missing */
} faas_store_desired_t;

typedef void (*faas_store_desired_pt)(faas_ctl_t *ctl, faas_revision_t *rev,
    const faas_store_desired_t *desired);


/*
 * Reads every declared revision's <prefix>desired:FN:REV hash (one
 * pipeline) and calls handler for each.  Returns 0, or -1 when the link
 * is down or a reply was not what HMGET answers.
 */
int faas_store_read_desired(faas_ctl_t *ctl, faas_store_desired_pt handler);

/* The same for one revision. */
int faas_store_read_desired_one(faas_ctl_t *ctl, faas_revision_t *rev,
    faas_store_desired_pt handler);

/*
 * Writes a count into <prefix>desired:FN:REV: replicas, reason, at_ms now
 * and by FAAS_STORE_BY_CONTROLLER.  With unless_by_hand, only if the hash
 * holds no count by hand (a "by" other than the controller's), checked
 * and written atomically (WATCH, MULTI, EXEC).  Returns 0 when written, 1
 * when left alone (a count by hand, or a write by someone else in the
 * meantime: read the hash again), -1 when Redis did not take it.
 */
int faas_store_write_desired(faas_ctl_t *ctl, faas_revision_t *rev,
    int replicas, const char *reason, int unless_by_hand);


/* one nginx instance's metrics, as read at a decision tick */
typedef struct {
    char         instance[FAAS_METRICS_INSTANCE_MAX + 1];
    long long    flushed_ms;        /* its score in <prefix>instances */
    redisReply  *fields;            /* HGETALL of <prefix>metrics:<it>:
                                       field, value, ...; maybe empty */
} faas_store_instance_t;

/*
 * Reads the nginx instances that flushed since since_ms (at most
 * FAAS_STORE_INSTANCES_MAX) and each one's metrics hash, in one pipeline.
 * Returns 0 with an array the caller frees with faas_store_metrics_free(),
 * or -1 when the link is down or Redis answered with an error (the tick's
 * metrics are then missing).
 */
int faas_store_read_metrics(faas_ctl_t *ctl, long long since_ms,
    faas_store_instance_t **instances, size_t *n);

void faas_store_metrics_free(faas_store_instance_t *instances, size_t n);

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
