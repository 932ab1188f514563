/*
 * Copyright (C) nginx-faas developers
 *
 * The "is it drained" decision (see drain.h).
 */

#include <string.h>

#include <cjson/cJSON.h>

#include "drain.h"


int
faas_drain_parse(const char *json, size_t len, const char *replica_id,
    faas_drain_report_t *report)
{
    int           rc;
    cJSON        *root;
    const cJSON  *at, *replicas, *n;

    memset(report, 0, sizeof(faas_drain_report_t));

    root = cJSON_ParseWithLength(json, len);
    rc = -1;

    at = cJSON_GetObjectItemCaseSensitive(root, "at_ms");
    replicas = cJSON_GetObjectItemCaseSensitive(root, "replicas");

    if (!cJSON_IsNumber(at) || at->valuedouble < 0
        || (replicas != NULL && !cJSON_IsObject(replicas)))
    {
        goto done;
    }

    report->reported = 1;
    report->at_ms = (long long) at->valuedouble;

    n = cJSON_GetObjectItemCaseSensitive(replicas, replica_id);

    if (n != NULL) {
        if (!cJSON_IsNumber(n) || n->valuedouble < 0) {
            goto done;
        }

        report->in_flight = (long long) n->valuedouble;
    }

    rc = 0;

done:

    cJSON_Delete(root);

    if (rc != 0) {
        /* reported but unreadable: the replica waits, as if it were busy */
        report->reported = 1;
        report->at_ms = 0;
        report->in_flight = 0;
    }

    return rc;
}


faas_drain_verdict_t
faas_drain_decide(const faas_drain_report_t *reports, size_t nreports,
    long long unpublished_ms, long long now_ms, long long drain_timeout_ms)
{
    size_t  i;

    if (now_ms - unpublished_ms >= drain_timeout_ms) {
        return FAAS_DRAIN_TIMEOUT;
    }

    if (now_ms - unpublished_ms <= FAAS_DRAIN_MARGIN_MS) {
        return FAAS_DRAIN_WAIT;
    }

    for (i = 0; i < nreports; i++) {
        if (!reports[i].reported
            || (reports[i].at_ms && reports[i].at_ms < reports[i].flushed_ms))
        {
            continue;
        }

        if (reports[i].at_ms <= unpublished_ms + FAAS_DRAIN_MARGIN_MS
            || reports[i].in_flight > 0)
        {
            return FAAS_DRAIN_WAIT;
        }
    }

    return FAAS_DRAIN_DONE;
}
