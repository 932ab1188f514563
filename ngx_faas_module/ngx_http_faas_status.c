/*
 * Copyright (C) nginx-faas developers
 *
 * "faas_status": every function, revision and replica this nginx knows,
 * as JSON or, with ?format=prometheus, in the Prometheus text format.  The
 * zone is copied under its lock first, then rendered without it.
 */


#include "ngx_http_faas_module.h"


typedef struct {
    const char                      *name;
    const char                      *type;
    const char                      *help;
    size_t                           offset;
    ngx_uint_t                       msec;   /* shown in seconds */
} ngx_http_faas_metric_t;


static ngx_buf_t *ngx_http_faas_status_json(ngx_http_request_t *r,
    ngx_http_faas_snapshot_t *snap);
static u_char *ngx_http_faas_status_report(u_char *p,
    ngx_http_faas_revision_report_t *report);
static ngx_buf_t *ngx_http_faas_status_prometheus(ngx_http_request_t *r,
    ngx_http_faas_snapshot_t *snap);


#define NGX_HTTP_FAAS_REV_METRIC(field)                                      \
    offsetof(ngx_http_faas_revision_snap_t, field)

#define NGX_HTTP_FAAS_REP_METRIC(field)                                      \
    offsetof(ngx_http_faas_replica_snap_t, field)


static ngx_http_faas_metric_t  ngx_http_faas_revision_metrics[] = {
    { "faas_revision_requests_total", "counter",
      "Requests routed to the revision.",
      NGX_HTTP_FAAS_REV_METRIC(requests), 0 },
    { "faas_revision_in_flight", "gauge",
      "Requests of the revision holding a replica slot now.",
      NGX_HTTP_FAAS_REV_METRIC(in_flight), 0 },
    { "faas_revision_parked", "gauge",
      "Requests of the revision waiting in the queue now.",
      NGX_HTTP_FAAS_REV_METRIC(parked), 0 },
    { "faas_revision_ready_replicas", "gauge",
      "Ready replicas of the revision.",
      NGX_HTTP_FAAS_REV_METRIC(ready), 0 },
    { "faas_revision_cold_starts_total", "counter",
      "Times the revision was woken from zero ready replicas.",
      NGX_HTTP_FAAS_REV_METRIC(cold_starts), 0 },
    { "faas_revision_rejected_total", "counter",
      "Requests answered 503 because the queue was full.",
      NGX_HTTP_FAAS_REV_METRIC(rejected), 0 },
    { "faas_revision_timeouts_total", "counter",
      "Requests answered 504 after waiting the queue timeout.",
      NGX_HTTP_FAAS_REV_METRIC(timeouts), 0 },
    { "faas_revision_aborted_total", "counter",
      "Requests whose client went away while they waited.",
      NGX_HTTP_FAAS_REV_METRIC(aborted), 0 },
    { "faas_revision_replays_total", "counter",
      "Requests refused by every replica and parked again.",
      NGX_HTTP_FAAS_REV_METRIC(replays), 0 },
    { "faas_revision_failures_total", "counter",
      "Failed attempts to reach a replica of the revision.",
      NGX_HTTP_FAAS_REV_METRIC(failures), 0 },
    { "faas_revision_queue_waits_total", "counter",
      "Requests that waited in the queue, then went to a replica.",
      NGX_HTTP_FAAS_REV_METRIC(waits), 0 },
    { "faas_revision_queue_wait_seconds_total", "counter",
      "Time those requests spent waiting.",
      NGX_HTTP_FAAS_REV_METRIC(wait_ms), 1 },
    { NULL, NULL, NULL, 0, 0 }
};


static ngx_http_faas_metric_t  ngx_http_faas_replica_metrics[] = {
    { "faas_replica_in_flight", "gauge",
      "Requests holding a slot on the replica now.",
      NGX_HTTP_FAAS_REP_METRIC(in_flight), 0 },
    { "faas_replica_requests_total", "counter",
      "Requests sent to the replica.",
      NGX_HTTP_FAAS_REP_METRIC(requests), 0 },
    { "faas_replica_failures_total", "counter",
      "Failed attempts to reach the replica.",
      NGX_HTTP_FAAS_REP_METRIC(failures), 0 },
    { NULL, NULL, NULL, 0, 0 }
};


ngx_int_t
ngx_http_faas_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_str_t                   format, type;
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

    if (ngx_http_faas_snapshot(r->pool, fmcf, &snap) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (prometheus) {
        b = ngx_http_faas_status_prometheus(r, &snap);
        ngx_str_set(&type, "text/plain; version=0.0.4; charset=utf-8");

    } else {
        b = ngx_http_faas_status_json(r, &snap);
        ngx_str_set(&type, "application/json");
    }

    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_faas_send(r, NGX_HTTP_OK, &type, b);
}


static ngx_buf_t *
ngx_http_faas_status_json(ngx_http_request_t *r, ngx_http_faas_snapshot_t *snap)
{
    ngx_http_faas_zone_t           *zone;
    ngx_http_faas_main_conf_t      *fmcf;
    u_char                         *p;
    size_t                          len;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, j;
    ngx_http_faas_replica_snap_t   *rs;
    ngx_http_faas_revision_snap_t  *vs;

    /* names are validated labels and addresses are numeric: no escaping */

    len = sizeof("{\"redis\":\"disconnected\",\"functions\":[]}\n")
          + snap->nrevisions * (1024 + 6 * sizeof(ngx_http_faas_revision_report_t))
          + snap->nreplicas * 384;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_faas_module);
    zone = fmcf->shm_zone->data;

    p = ngx_sprintf(b->last, "{\"redis\":\"%s\",\"metrics_dropped\":%uA,"
                    "\"functions\":[",
                    ngx_http_faas_redis_connected() ? "connected"
                                                    : "disconnected",
                    zone->sh->metrics_dropped);

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
                        "\"in_flight\":%ui,\"parked\":%ui,\"requests\":%ui,"
                        "\"cold_starts\":%ui,\"rejected\":%ui,"
                        "\"timeouts\":%ui,\"aborted\":%ui,\"replays\":%ui,"
                        "\"failures\":%ui,"
                        "\"queue_waits\":%ui,\"queue_wait_ms\":%ui,"
                        "\"last_request_ms\":%ui,",
                        &vs[i].revision->name, vs[i].revision->weight_pct,
                        vs[i].ready, vs[i].in_flight, vs[i].parked,
                        vs[i].requests, vs[i].cold_starts, vs[i].rejected,
                        vs[i].timeouts, vs[i].aborted, vs[i].replays,
                        vs[i].failures,
                        vs[i].waits, vs[i].wait_ms, vs[i].last_request_ms);

        if (vs[i].report.desired >= 0 || vs[i].report.state_len) {
            p = ngx_http_faas_status_report(p, &vs[i].report);
        }

        p = ngx_cpymem(p, "\"replicas\":[", sizeof("\"replicas\":[") - 1);

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


/* what the controller said of the revision: its words are escaped */

static u_char *
ngx_http_faas_status_report(u_char *p, ngx_http_faas_revision_report_t *report)
{
    p = ngx_cpymem(p, "\"controller\":{\"desired\":",
                   sizeof("\"controller\":{\"desired\":") - 1);

    if (report->desired >= 0) {
        p = ngx_sprintf(p, "%i", report->desired);

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    p = ngx_cpymem(p, ",\"desired_reason\":\"",
                   sizeof(",\"desired_reason\":\"") - 1);
    p = ngx_http_faas_json_escape(p, report->why, report->why_len);
    p = ngx_cpymem(p, "\",\"state\":\"", sizeof("\",\"state\":\"") - 1);
    p = ngx_http_faas_json_escape(p, report->state, report->state_len);
    p = ngx_cpymem(p, "\",\"reason\":\"", sizeof("\",\"reason\":\"") - 1);
    p = ngx_http_faas_json_escape(p, report->reason, report->reason_len);
    p = ngx_cpymem(p, "\"},", 3);

    return p;
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

    len = 4096 + snap->nrevisions * 12 * 256 + snap->nreplicas * 3 * 384;

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

            p = ngx_sprintf(p, "%s{function=\"%V\",revision=\"%V\"} ",
                            m->name, &vs[i].function->name,
                            &vs[i].revision->name);

            if (m->msec) {
                p = ngx_sprintf(p, "%ui.%03ui\n", value / 1000, value % 1000);

            } else {
                p = ngx_sprintf(p, "%ui\n", value);
            }
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
