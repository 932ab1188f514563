/*
 * Copyright (C) nginx-faas developers
 *
 * Whether a replica that was unpublished has finished its requests, from
 * the metrics every nginx writes to Redis (ngx_http_faas_metrics.c):
 * <prefix>metrics:<instance>, field "FN:REV" = JSON with "at_ms" and
 * "replicas": {"<id>": in_flight, ...}.  Pure.
 */

#ifndef FAAS_DRAIN_H
#define FAAS_DRAIN_H


#include <stddef.h>


/* how long after its last flush an nginx still counts (its TTL is ~5 s) */
#define FAAS_DRAIN_FRESH_MS   5000

/*
 * A snapshot counts only when taken this long after the unpublish: the
 * "down" message reaches nginx's workers asynchronously, and nginx's
 * clock is cached per event loop turn.
 */
#define FAAS_DRAIN_MARGIN_MS  200


/* one nginx instance's view of one revision */
typedef struct {
    int        reported;      /* its metrics hash has the revision */
    long long  at_ms;         /* when the snapshot was taken */
    long long  in_flight;     /* on the replica being drained (absent: 0) */
    long long  flushed_ms;    /* the instance's last flush (its score) */
} faas_drain_report_t;


typedef enum {
    FAAS_DRAIN_WAIT = 0,
    FAAS_DRAIN_DONE,          /* every nginx saw it idle after the unpublish */
    FAAS_DRAIN_TIMEOUT        /* drain_timeout_ms passed first */
} faas_drain_verdict_t;


/*
 * Parses one metrics value (JSON, len bytes) for the replica `replica_id`
 * into report.  Returns 0, or -1 when the value is not a metrics record;
 * report then holds a report that makes faas_drain_decide() wait (until
 * the drain timeout), as for an nginx that has not reported since.
 */
int faas_drain_parse(const char *json, size_t len, const char *replica_id,
    faas_drain_report_t *report);

/*
 * Decides for a replica unpublished at unpublished_ms, given the reports
 * of every fresh nginx instance.  One that does not declare the revision
 * has nothing in flight on it: its hash has no such field (reported = 0),
 * or one older than its last flush (nginx writes every field it declares
 * with the time of the flush, and leaves the fields of revisions dropped
 * by a reload until the key expires).  Done when each other report was
 * taken more than FAAS_DRAIN_MARGIN_MS after the unpublish and shows
 * nothing in flight, and the margin has passed; timeout when
 * drain_timeout_ms passed before that.
 */
faas_drain_verdict_t faas_drain_decide(const faas_drain_report_t *reports,
    size_t nreports, long long unpublished_ms, long long now_ms,
    long long drain_timeout_ms);


#endif /* FAAS_DRAIN_H */
