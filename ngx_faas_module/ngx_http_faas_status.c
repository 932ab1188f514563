/*
 * Copyright (C) nginx-faas developers
 *
 * "faas_status": every function, revision and replica this nginx knows,
 * as JSON or, with ?format=prometheus, in the Prometheus text format.  The
 * zone is copied under its lock first, then rendered without it.
 */


#include "ngx_http_faas_module.h"


typedef struct {
    ngx_str_t                        id;
    ngx_str_t                        addr;
    ngx_uint_t                       ready;
    ngx_uint_t                       in_flight;
    ngx_uint_t                       requests;
    ngx_uint_t                       failures;
} ngx_http_faas_replica_snap_t;


typedef struct {
    ngx_http_faas_function_conf_t   *function;
    ngx_http_faas_revision_conf_t   *revision;
    ngx_uint_t                       ready;
    ngx_uint_t                       in_flight;
    ngx_uint_t                       requests;
    ngx_uint_t                       unavailable;
    ngx_uint_t                       failures;
    ngx_http_faas_replica_snap_t    *replicas;
    ngx_uint_t                       nreplicas;
} ngx_http_faas_revision_snap_t;


typedef struct {
    ngx_http_faas_revision_snap_t   *revisions;
    ngx_uint_t                       nrevisions;
    ngx_uint_t                       nreplicas;
} ngx_http_faas_snapshot_t;


typedef struct {
    const char                      *name;
    const char                      *type;
    const char                      *help;
    size_t                           offset;
} ngx_http_faas_metric_t;


static ngx_int_t ngx_http_faas_snapshot(ngx_http_request_t *r,
    ngx_http_faas_main_conf_t *fmcf, ngx_http_faas_snapshot_t *snap);
static ngx_buf_t *ngx_http_faas_status_json(ngx_http_request_t *r,
    ngx_http_faas_snapshot_t *snap);
static ngx_buf_t *ngx_http_faas_status_prometheus(ngx_http_request_t *r,
    ngx_http_faas_snapshot_t *snap);


#define NGX_HTTP_FAAS_REV_METRIC(field)                                      \
    offsetof(ngx_http_faas_revision_snap_t, field)

#define NGX_HTTP_FAAS_REP_METRIC(field)                                      \
    offsetof(ngx_http_faas_replica_snap_t, field)


static ngx_http_faas_metric_t  ngx_http_faas_revision_metrics[] = {
    { "faas_revision_requests_total", "counter",
      "Requests routed to the revision.",
      NGX_HTTP_FAAS_REV_METRIC(requests) },
    { "faas_revision_in_flight", "gauge",
      "Requests of the revision being proxied now.",
      NGX_HTTP_FAAS_REV_METRIC(in_flight) },
    { "faas_revision_ready_replicas", "gauge",
      "Ready replicas of the revision.",
      NGX_HTTP_FAAS_REV_METRIC(ready) },
    { "faas_revision_unavailable_total", "counter",
      "Requests answered 503 because no replica could take them.",
      NGX_HTTP_FAAS_REV_METRIC(unavailable) },
    { "faas_revision_failures_total", "counter",
      "Failed attempts to reach a replica of the revision.",
      NGX_HTTP_FAAS_REV_METRIC(failures) },
    { NULL, NULL, NULL, 0 }
};


static ngx_http_faas_metric_t  ngx_http_faas_replica_metrics[] = {
    { "faas_replica_in_flight", "gauge",
      "Requests being proxied to the replica now.",
      NGX_HTTP_FAAS_REP_METRIC(in_flight) },
    { "faas_replica_requests_total", "counter",
      "Requests sent to the replica.",
      NGX_HTTP_FAAS_REP_METRIC(requests) },
    { "faas_replica_failures_total", "counter",
      "Failed attempts to reach the replica.",
      NGX_HTTP_FAAS_REP_METRIC(failures) },
    { NULL, NULL, NULL, 0 }
};


ngx_int_t
ngx_http_faas_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_str_t                   format;
    ngx_chain_t                 out;
    ngx_uint_t                  prometheus;
    ngx_http_faas_snapshot_t    snap;
    ngx_http_faas_main_conf_t  *fmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    prometheus = ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK
                 && format.len == 10
                 && ngx_strncmp(format.data, "prometheus", 10) == 0;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_faas_module);

    if (ngx_http_faas_snapshot(r, fmcf, &snap) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (prometheus) {
        b = ngx_http_faas_status_prometheus(r, &snap);
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");

    } else {
        b = ngx_http_faas_status_json(r, &snap);
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * Copies the counters of every configured revision and its replicas.  The
 * lock is taken twice: once to count, once to copy into memory allocated
 * in between (nothing is allocated while it is held).  Replicas that
 * appear in between are left out of this answer.
 */

static ngx_int_t
ngx_http_faas_snapshot(ngx_http_request_t *r, ngx_http_faas_main_conf_t *fmcf,
    ngx_http_faas_snapshot_t *snap)
{
    u_char                           *p;
    ngx_uint_t                        i, j, nrevisions, nreplicas, room;
    ngx_queue_t                      *q;
    ngx_http_faas_zone_t             *zone;
    ngx_http_faas_replica_t          *rp;
    ngx_http_faas_replica_snap_t     *rs;
    ngx_http_faas_revision_snap_t    *vs;
    ngx_http_faas_shm_revision_t     *srev;
    ngx_http_faas_function_conf_t   **fnp;
    ngx_http_faas_revision_conf_t    *rev;

    zone = fmcf->shm_zone->data;
    fnp = fmcf->functions.elts;

    nrevisions = 0;
    nreplicas = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < fmcf->functions.nelts; i++) {
        rev = fnp[i]->revisions.elts;

        for (j = 0; j < fnp[i]->revisions.nelts; j++) {
            nrevisions++;
            nreplicas += rev[j].shm->nreplicas;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    snap->revisions = ngx_pcalloc(r->pool, nrevisions
                                       * sizeof(ngx_http_faas_revision_snap_t));
    snap->nrevisions = 0;

    room = nreplicas;

    /* the address text is copied into p, NGX_HTTP_FAAS_ADDR_TEXT_MAX each */

    rs = ngx_palloc(r->pool, room * (sizeof(ngx_http_faas_replica_snap_t)
                                     + NGX_HTTP_FAAS_ADDR_TEXT_MAX
                                     + NGX_HTTP_FAAS_REPLICA_ID_MAX) + 1);

    if ((nrevisions && snap->revisions == NULL) || rs == NULL) {
        return NGX_ERROR;
    }

    p = (u_char *) (rs + room);
    snap->nreplicas = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < fmcf->functions.nelts; i++) {
        rev = fnp[i]->revisions.elts;

        for (j = 0; j < fnp[i]->revisions.nelts; j++) {
            srev = rev[j].shm;
            vs = &snap->revisions[snap->nrevisions++];

            vs->function = fnp[i];
            vs->revision = &rev[j];
            vs->ready = srev->nready;
            vs->in_flight = srev->in_flight;
            vs->requests = srev->requests;
            vs->unavailable = srev->unavailable;
            vs->failures = srev->failures;
            vs->replicas = rs;
            vs->nreplicas = 0;

            for (q = ngx_queue_head(&srev->replicas);
                 q != ngx_queue_sentinel(&srev->replicas) && room;
                 q = ngx_queue_next(q))
            {
                rp = ngx_queue_data(q, ngx_http_faas_replica_t, queue);

                /* a replica that is gone and idle is only a tombstone */

                if (rp->state != NGX_HTTP_FAAS_REPLICA_READY
                    && rp->in_flight == 0)
                {
                    continue;
                }

                rs->ready = (rp->state == NGX_HTTP_FAAS_REPLICA_READY);
                rs->in_flight = rp->in_flight;
                rs->requests = rp->requests;
                rs->failures = rp->failures;

                rs->id.data = p;
                rs->id.len = rp->id_len;
                p = ngx_cpymem(p, rp->id, rp->id_len);

                rs->addr.data = p;
                rs->addr.len = rp->addr_len;
                p = ngx_cpymem(p, rp->addr, rp->addr_len);

                rs++;
                room--;
                vs->nreplicas++;
                snap->nreplicas++;
            }
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


static ngx_buf_t *
ngx_http_faas_status_json(ngx_http_request_t *r, ngx_http_faas_snapshot_t *snap)
{
    u_char                         *p;
    size_t                          len;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, j;
    ngx_http_faas_replica_snap_t   *rs;
    ngx_http_faas_revision_snap_t  *vs;

    /* names are validated labels and addresses are numeric: no escaping */

    len = sizeof("{\"redis\":\"disconnected\",\"functions\":[]}\n")
          + snap->nrevisions * 640 + snap->nreplicas * 384;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = ngx_sprintf(b->last, "{\"redis\":\"%s\",\"functions\":[",
                    ngx_http_faas_redis_connected() ? "connected"
                                                    : "disconnected");

    vs = snap->revisions;

    for (i = 0; i < snap->nrevisions; i++) {
        if (i == 0 || vs[i].function != vs[i - 1].function) {
            if (i) {
                p = ngx_cpymem(p, "]},", 3);
            }

            p = ngx_sprintf(p, "{\"name\":\"%V\",\"concurrency\":%ui,"
                            "\"queue\":{\"size\":%ui,\"timeout_ms\":%M},"
                            "\"revisions\":[",
                            &vs[i].function->name, vs[i].function->concurrency,
                            vs[i].function->queue_size,
                            vs[i].function->queue_timeout_ms);

        } else {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "{\"name\":\"%V\",\"weight\":%ui,\"ready\":%ui,"
                        "\"in_flight\":%ui,\"requests\":%ui,"
                        "\"unavailable\":%ui,\"failures\":%ui,\"replicas\":[",
                        &vs[i].revision->name, vs[i].revision->weight_pct,
                        vs[i].ready, vs[i].in_flight, vs[i].requests,
                        vs[i].unavailable, vs[i].failures);

        rs = vs[i].replicas;

        for (j = 0; j < vs[i].nreplicas; j++) {
            p = ngx_sprintf(p, "%s{\"id\":\"%V\",\"address\":\"%V\","
                            "\"state\":\"%s\",\"in_flight\":%ui,"
                            "\"requests\":%ui,\"failures\":%ui}",
                            j ? "," : "", &rs[j].id, &rs[j].addr,
                            rs[j].ready ? "ready" : "draining",
                            rs[j].in_flight, rs[j].requests, rs[j].failures);
        }

        p = ngx_cpymem(p, "]}", 2);
    }

    if (snap->nrevisions) {
        p = ngx_cpymem(p, "]}", 2);
    }

    p = ngx_cpymem(p, "]}\n", 3);

    b->last = p;

    return b;
}


static ngx_buf_t *
ngx_http_faas_status_prometheus(ngx_http_request_t *r,
    ngx_http_faas_snapshot_t *snap)
{
    u_char                         *p;
    size_t                          len;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, j, value;
    ngx_http_faas_metric_t         *m;
    ngx_http_faas_replica_snap_t   *rs;
    ngx_http_faas_revision_snap_t  *vs;

    len = 4096 + snap->nrevisions * 5 * 256 + snap->nreplicas * 3 * 384;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = b->last;
    vs = snap->revisions;

    for (m = ngx_http_faas_revision_metrics; m->name; m++) {
        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                        m->name, m->help, m->name, m->type);

        for (i = 0; i < snap->nrevisions; i++) {
            value = *(ngx_uint_t *) ((u_char *) &vs[i] + m->offset);

            p = ngx_sprintf(p, "%s{function=\"%V\",revision=\"%V\"} %ui\n",
                            m->name, &vs[i].function->name,
                            &vs[i].revision->name, value);
        }
    }

    for (m = ngx_http_faas_replica_metrics; m->name; m++) {
        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                        m->name, m->help, m->name, m->type);

        for (i = 0; i < snap->nrevisions; i++) {
            rs = vs[i].replicas;

            for (j = 0; j < vs[i].nreplicas; j++) {
                value = *(ngx_uint_t *) ((u_char *) &rs[j] + m->offset);

                p = ngx_sprintf(p, "%s{function=\"%V\",revision=\"%V\","
                                "replica=\"%V\",address=\"%V\"} %ui\n",
                                m->name, &vs[i].function->name,
                                &vs[i].revision->name, &rs[j].id,
                                &rs[j].addr, value);
            }
        }
    }

    b->last = p;

    return b;
}
