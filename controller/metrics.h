/*
 * Copyright (C) nginx-faas developers
 *
 * nginx's load metrics, as the scaler needs them.  Every nginx writes, per
 * revision, an absolute snapshot into <prefix>metrics:<instance> (field
 * "FN:REV", JSON; docs/redis-schema.md) and scores itself in
 * <prefix>instances with the time of that flush.  This file turns one
 * decision tick's view of those keys into the scaler's snapshots
 * (faas_scaler_snapshot_t), keeping per revision what it remembers of
 * each nginx (its request counter, for deltas).  Pure: the values read
 * from Redis are passed in; nothing is read, written or logged here.
 */

#ifndef FAAS_METRICS_H
#define FAAS_METRICS_H


#include <stddef.h>
#include <stdint.h>

#include "faas_scaler.h"


/* an nginx instance is "host:pid": longer names are not ours */
#define FAAS_METRICS_INSTANCE_MAX  255


/* what a revision remembers of one nginx instance */
typedef struct {
    char       instance[FAAS_METRICS_INSTANCE_MAX + 1];
    uint64_t   requests;        /* its counter at the last fresh snapshot */
    long long  at_ms;           /* its last snapshot of the revision */
    int        seen;            /* scratch: reported at this tick */
} faas_metrics_peer_t;


typedef struct {
    faas_metrics_peer_t  *peers;
    size_t                n;
    size_t                cap;
} faas_metrics_peers_t;


/* one nginx instance's part of a tick, for one revision */
typedef struct {
    const char  *instance;      /* NUL-terminated */
    long long    flushed_ms;    /* its score in <prefix>instances */
    const char  *json;          /* its field "FN:REV"; NULL: none */
    size_t       json_len;
} faas_metrics_report_t;


/*
 * Parses one metrics value (JSON) into snap: at_ms, in_flight, parked,
 * requests and last_request_ms (requests_before is set to 0).  Returns 0,
 * or -1 when the value is not a metrics record (not JSON, a field missing,
 * negative or not a number); snap is then zeroed.
 */
int faas_metrics_parse(const char *json, size_t len,
    faas_scaler_snapshot_t *snap);

/*
 * Turns the reports of one tick for a revision (one per nginx instance that
 * flushed since the instance expiry) into snapshots for faas_scaler_sum,
 * written to snaps (room for nreports), their count in *nsnaps; *nbad
 * counts the values that did not parse.  Updates peers.  The rules:
 *
 * - A snapshot written at the instance's last flush or later is used.  Its
 *   requests_before is the counter remembered for the instance; an
 *   instance seen for the first time gets its own counter (no delta), so
 *   that a controller that starts does not take every request an nginx
 *   ever served as new traffic (its last_request_ms still tells when the
 *   last one came).  The counter is remembered only from fresh snapshots
 *   (at most stale_ms old), so that a stale one loses no request.
 * - A snapshot older than the instance's last flush belongs to a revision
 *   that nginx no longer declares (a reload dropped it): not used, and
 *   the instance is forgotten for the revision.
 * - A value that does not parse is used as a snapshot of time 0: stale,
 *   so the sample is incomplete (no scale-down on metrics we cannot read).
 * - No value: an instance that flushed within stale_ms does not declare the
 *   revision (forgotten for it); one that did not, but reported the
 *   revision before, is missing: a snapshot of its last time is used,
 *   stale, so the sample is incomplete until the instance comes back or
 *   expires (it is then absent from the reports, and forgotten).
 *
 * Returns 0, or -1 when out of memory (peers are then unchanged in
 * number, and the caller treats the tick as incomplete).
 */
int faas_metrics_collect(faas_metrics_peers_t *peers,
    const faas_metrics_report_t *reports, size_t nreports, long long now_ms,
    long long stale_ms, faas_scaler_snapshot_t *snaps, size_t *nsnaps,
    size_t *nbad);

/* Frees what peers holds and empties it. */
void faas_metrics_peers_free(faas_metrics_peers_t *peers);


#endif /* FAAS_METRICS_H */
