/*
 * Copyright (C) nginx-faas developers
 *
 * Load metrics for the scaler.  Worker 0 of every nginx writes, on a timer
 * (faas_redis metrics=, default 1s), an absolute snapshot of each revision
 * taken from the shared zone: all workers' counts together, so the figures
 * are this nginx instance's.  Absolute values make a lost or repeated flush
 * harmless; the key's TTL makes an instance that dies age out on its own.
 *
 *   HSET    <prefix>metrics:<instance> "<fn>:<rev>" <json> ...
 *   PEXPIRE <prefix>metrics:<instance> <5 intervals>
 *   ZADD    <prefix>instances <unix ms> <instance>
 *
 * Redis is never on a request's path: a flush that cannot be sent is
 * dropped and counted.
 */


#include "ngx_http_faas_module.h"


#define NGX_HTTP_FAAS_METRICS_TTL_INTERVALS  5
#define NGX_HTTP_FAAS_METRICS_TTL_MIN_MS     3000


static void ngx_http_faas_metrics_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_faas_metrics_flush(ngx_http_faas_main_conf_t *fmcf);
static u_char *ngx_http_faas_metrics_json(u_char *p,
    ngx_http_faas_revision_snap_t *vs, ngx_msec_t now_ms);


static ngx_event_t                 ngx_http_faas_metrics_timer;
static ngx_http_faas_main_conf_t  *ngx_http_faas_metrics_conf;


ngx_int_t
ngx_http_faas_metrics_init_process(ngx_cycle_t *cycle,
    ngx_http_faas_main_conf_t *fmcf)
{
    /* one writer per nginx: the counters are shared by all workers */

    if (ngx_worker != 0) {
        return NGX_OK;
    }

    ngx_http_faas_metrics_conf = fmcf;

    ngx_http_faas_metrics_timer.handler = ngx_http_faas_metrics_handler;
    ngx_http_faas_metrics_timer.log = cycle->log;
    ngx_http_faas_metrics_timer.cancelable = 1;

    ngx_add_timer(&ngx_http_faas_metrics_timer, fmcf->redis->metrics_ms);

    return NGX_OK;
}


void
ngx_http_faas_metrics_exit_process(void)
{
    if (ngx_http_faas_metrics_timer.timer_set) {
        ngx_del_timer(&ngx_http_faas_metrics_timer);
    }
}


static void
ngx_http_faas_metrics_handler(ngx_event_t *ev)
{
    ngx_http_faas_zone_t       *zone;
    ngx_http_faas_main_conf_t  *fmcf;

    fmcf = ngx_http_faas_metrics_conf;

    /* after a reload the new worker 0 writes the same figures */

    if (ngx_exiting) {
        return;
    }

    if (ngx_http_faas_metrics_flush(fmcf) != NGX_OK) {
        zone = fmcf->shm_zone->data;
        (void) ngx_atomic_fetch_add(&zone->sh->metrics_dropped, 1);
    }

    ngx_add_timer(ev, fmcf->redis->metrics_ms);
}


static ngx_int_t
ngx_http_faas_metrics_flush(ngx_http_faas_main_conf_t *fmcf)
{
    u_char                      *p, *key, *ttl, *now, *last;
    size_t                       len, *argvlen;
    ngx_int_t                    rc;
    ngx_str_t                   *instance;
    ngx_uint_t                   i, argc;
    ngx_msec_t                   now_ms, ttl_ms;
    ngx_pool_t                  *pool;
    ngx_time_t                  *tp;
    const char                 **argv;
    ngx_http_faas_snapshot_t     snap;
    ngx_http_faas_redis_conf_t  *rcf;

    if (!ngx_http_faas_redis_connected()) {
        return NGX_DECLINED;
    }

    if (fmcf->functions.nelts == 0) {
        return NGX_OK;
    }

    pool = ngx_create_pool(16384, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_http_faas_snapshot(pool, fmcf, &snap) != NGX_OK) {
        goto done;
    }

    rcf = fmcf->redis;
    instance = ngx_http_faas_instance();
    tp = ngx_timeofday();
    now_ms = (ngx_msec_t) tp->sec * 1000 + tp->msec;
    ttl_ms = ngx_max(NGX_HTTP_FAAS_METRICS_TTL_INTERVALS * rcf->metrics_ms,
                     NGX_HTTP_FAAS_METRICS_TTL_MIN_MS);

    /* names are validated labels and ids are [A-Za-z0-9._-]: no escaping */

    /* the key, the fields, the TTL and the time */

    len = rcf->prefix.len + sizeof("metrics:") - 1 + instance->len
          + 2 * NGX_INT64_LEN
          + snap.nrevisions * (2 * NGX_HTTP_FAAS_NAME_MAX + 512)
          + snap.nreplicas * (NGX_HTTP_FAAS_REPLICA_ID_MAX + NGX_INT_T_LEN
                              + 4);

    argc = 2 + 2 * snap.nrevisions;

    key = ngx_pnalloc(pool, len);
    argv = ngx_palloc(pool, argc * sizeof(char *));
    argvlen = ngx_palloc(pool, argc * sizeof(size_t));

    if (key == NULL || argv == NULL || argvlen == NULL) {
        goto done;
    }

    last = key + len;

    p = ngx_slprintf(key, last, "%Vmetrics:%V", &rcf->prefix, instance);

    argv[0] = "HSET";
    argvlen[0] = sizeof("HSET") - 1;
    argv[1] = (const char *) key;
    argvlen[1] = p - key;
    argc = 2;

    for (i = 0; i < snap.nrevisions; i++) {
        argv[argc] = (const char *) p;
        p = ngx_slprintf(p, last, "%V:%V", &snap.revisions[i].function->name,
                         &snap.revisions[i].revision->name);
        argvlen[argc] = p - (u_char *) argv[argc];
        argc++;

        argv[argc] = (const char *) p;
        p = ngx_http_faas_metrics_json(p, &snap.revisions[i], now_ms);
        argvlen[argc] = p - (u_char *) argv[argc];
        argc++;
    }

    if (ngx_http_faas_redis_command(NULL, NULL, argc, argv, argvlen)
        != NGX_OK)
    {
        rc = NGX_DECLINED;
        goto done;
    }

    ttl = p;
    p = ngx_sprintf(p, "%M", ttl_ms);

    argv[0] = "PEXPIRE";
    argvlen[0] = sizeof("PEXPIRE") - 1;
    argv[2] = (const char *) ttl;
    argvlen[2] = p - ttl;

    (void) ngx_http_faas_redis_command(NULL, NULL, 3, argv, argvlen);

    now = p;
    p = ngx_sprintf(p, "%M", now_ms);

    argv[0] = "ZADD";
    argvlen[0] = sizeof("ZADD") - 1;
    argv[1] = (const char *) rcf->names.instances.data;
    argvlen[1] = rcf->names.instances.len;
    argv[2] = (const char *) now;
    argvlen[2] = p - now;
    argv[3] = (const char *) instance->data;
    argvlen[3] = instance->len;

    (void) ngx_http_faas_redis_command(NULL, NULL, 4, argv, argvlen);

    rc = NGX_OK;

done:

    ngx_destroy_pool(pool);

    return rc;
}


/*
 * One revision's snapshot.  "in_flight" is what the scaler sizes for:
 * requests holding a slot (an upgraded connection holds one as long as it
 * is open) plus those parked waiting for one.
 */

static u_char *
ngx_http_faas_metrics_json(u_char *p, ngx_http_faas_revision_snap_t *vs,
    ngx_msec_t now_ms)
{
    ngx_uint_t                     j;
    ngx_http_faas_replica_snap_t  *rs;

    p = ngx_sprintf(p, "{\"in_flight\":%ui,\"active\":%ui,\"parked\":%ui,"
                    "\"ready\":%ui,\"requests\":%ui,\"last_request_ms\":%ui,"
                    "\"cold_starts\":%ui,\"rejected\":%ui,\"timeouts\":%ui,"
                    "\"aborted\":%ui,\"at_ms\":%M,\"replicas\":{",
                    vs->in_flight + vs->parked, vs->in_flight, vs->parked,
                    vs->ready, vs->requests, vs->last_request_ms,
                    vs->cold_starts, vs->rejected, vs->timeouts, vs->aborted,
                    now_ms);

    rs = vs->replicas;

    for (j = 0; j < vs->nreplicas; j++) {
        p = ngx_sprintf(p, "%s\"%V\":%ui", j ? "," : "", &rs[j].id,
                        rs[j].in_flight);
    }

    *p++ = '}';
    *p++ = '}';

    return p;
}
