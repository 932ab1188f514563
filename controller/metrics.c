/*
 * Copyright (C) nginx-faas developers
 *
 * nginx's metrics into the scaler's snapshots (see metrics.h).
 */

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "metrics.h"


/* 2^53: larger counts are not exact in JSON numbers anyway */
#define FAAS_METRICS_NUMBER_MAX  9007199254740992.0


static int
faas_metrics_number(const cJSON *root, const char *name, double *v)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(root, name);

    if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0)
        || item->valuedouble > FAAS_METRICS_NUMBER_MAX)
    {
        return -1;
    }

    *v = item->valuedouble;

    return 0;
}


int
faas_metrics_parse(const char *json, size_t len, faas_scaler_snapshot_t *snap)
{
    int      rc;
    cJSON   *root;
    double   at, in_flight, parked, requests, last;

    memset(snap, 0, sizeof(faas_scaler_snapshot_t));

    root = cJSON_ParseWithLength(json, len);

    rc = (cJSON_IsObject(root)
          && faas_metrics_number(root, "at_ms", &at) == 0
          && faas_metrics_number(root, "in_flight", &in_flight) == 0
          && faas_metrics_number(root, "parked", &parked) == 0
          && faas_metrics_number(root, "requests", &requests) == 0
          && faas_metrics_number(root, "last_request_ms", &last) == 0)
         ? 0 : -1;

    cJSON_Delete(root);

    if (rc != 0) {
        return -1;
    }

    snap->at_ms = (int64_t) at;
    snap->in_flight = (int64_t) in_flight;
    snap->parked = (int64_t) parked;
    snap->requests = (uint64_t) requests;
    snap->last_request_ms = (int64_t) last;

    return 0;
}


static faas_metrics_peer_t *
faas_metrics_peer(faas_metrics_peers_t *peers, const char *instance)
{
    size_t  i;

    for (i = 0; i < peers->n; i++) {
        if (strcmp(peers->peers[i].instance, instance) == 0) {
            return &peers->peers[i];
        }
    }

    return NULL;
}


int
faas_metrics_collect(faas_metrics_peers_t *peers,
    const faas_metrics_report_t *reports, size_t nreports, long long now_ms,
    long long stale_ms, faas_scaler_snapshot_t *snaps, size_t *nsnaps,
    size_t *nbad)
{
    int                            fresh_instance;
    size_t                         i, j, cap;
    faas_metrics_peer_t           *peer, *grown;
    faas_scaler_snapshot_t         snap;
    const faas_metrics_report_t   *r;

    *nsnaps = 0;
    *nbad = 0;

    /* room for every instance first: nothing below can fail */

    if (peers->n + nreports > peers->cap) {
        cap = peers->n + nreports;
        grown = realloc(peers->peers, cap * sizeof(faas_metrics_peer_t));

        if (grown == NULL) {
            return -1;
        }

        peers->peers = grown;
        peers->cap = cap;
    }

    for (i = 0; i < peers->n; i++) {
        peers->peers[i].seen = 0;
    }

    for (i = 0; i < nreports; i++) {
        r = &reports[i];

        if (r->instance == NULL
            || strlen(r->instance) > FAAS_METRICS_INSTANCE_MAX)
        {
            continue;
        }

        peer = faas_metrics_peer(peers, r->instance);
        fresh_instance = (now_ms - r->flushed_ms <= stale_ms);

        if (r->json == NULL) {
            if (fresh_instance || peer == NULL) {
                /* does not declare the revision: nothing of it in flight */
                continue;
            }

            /* missing: its last snapshot, stale, makes the sample partial */
            memset(&snap, 0, sizeof(snap));
            snap.at_ms = peer->at_ms;
            snaps[(*nsnaps)++] = snap;
            peer->seen = 1;
            continue;
        }

        if (faas_metrics_parse(r->json, r->json_len, &snap) != 0) {
            (*nbad)++;
            memset(&snap, 0, sizeof(snap));     /* time 0: stale */
            snaps[(*nsnaps)++] = snap;

            if (peer) {
                peer->seen = 1;
            }

            continue;
        }

        if (snap.at_ms < r->flushed_ms) {
            /* left over from before a reload that dropped the revision */
            continue;
        }

        if (peer == NULL) {
            peer = &peers->peers[peers->n++];
            memset(peer, 0, sizeof(faas_metrics_peer_t));
            strcpy(peer->instance, r->instance);
            peer->requests = snap.requests;
        }

        snap.requests_before = peer->requests;

        if (now_ms - snap.at_ms <= stale_ms) {
            peer->requests = snap.requests;
        }

        peer->at_ms = snap.at_ms;
        peer->seen = 1;

        snaps[(*nsnaps)++] = snap;
    }

    /* forget the instances that did not report the revision */

    for (i = 0, j = 0; i < peers->n; i++) {
        if (peers->peers[i].seen) {
            if (i != j) {
                peers->peers[j] = peers->peers[i];
            }

            j++;
        }
    }

    peers->n = j;

    return 0;
}


void
faas_metrics_peers_free(faas_metrics_peers_t *peers)
{
    free(peers->peers);
    peers->peers = NULL;
    peers->n = 0;
    peers->cap = 0;
}
