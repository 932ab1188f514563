/*
 * Copyright (C) nginx-faas developers
 *
 * Admission and balancing.  A routed request takes a slot on a ready
 * replica of its revision before proxy_pass runs (least in flight, within
 * the function's concurrency limit); "faas_balancer" then hands that
 * replica to the upstream as its peer, and gives the slot back when the
 * upstream is done with it.  A replica that refuses the connection is
 * swapped for another one, which is safe for every method as nothing was
 * sent; when none is left the request goes back to the queue.
 *
 * Every slot taken is given back exactly once: by the balancer's free, or
 * by the request pool's cleanup when the upstream never ran.  A slot given
 * back goes to the requests parked for the revision (the queue).
 */


#include "ngx_http_faas_module.h"


static ngx_int_t ngx_http_faas_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_faas_upstream_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_faas_upstream_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);


/*
 * Takes a slot for a routed request on the least loaded ready replica of
 * its revision.  Returns NGX_OK, or NGX_DECLINED when none can take it.
 */

ngx_int_t
ngx_http_faas_take_slot(ngx_http_faas_ctx_t *ctx)
{
    ngx_http_faas_main_conf_t  *fmcf;

    fmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_faas_module);

    ctx->replica = ngx_http_faas_replica_acquire(fmcf->shm_zone,
                                                 ctx->function, ctx->revision,
                                                 ctx->tried, ctx->ntried,
                                                 ctx->replays > 0, &ctx->peer);

    return ctx->replica ? NGX_OK : NGX_DECLINED;
}


/* gives the slot back, to this worker's queue first */

void
ngx_http_faas_give_back(ngx_http_faas_ctx_t *ctx)
{
    if (ctx->replica == NULL) {
        return;
    }

    ngx_http_faas_replica_release(ctx->replica);
    ctx->replica = NULL;

    ngx_http_faas_queue_slot_freed(ctx->revision);
}


ngx_int_t
ngx_http_faas_upstream_init(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us)
{
    if (us->servers->nelts > 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "upstream \"%V\" with \"faas_balancer\" takes no "
                           "\"server\": its peers are the ready replicas",
                           &us->host);
        return NGX_ERROR;
    }

    if (us->shm_zone) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "upstream \"%V\" with \"faas_balancer\" takes no "
                           "\"zone\": replicas live in \"faas_zone\"",
                           &us->host);
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_faas_upstream_init_peer;

    return NGX_OK;
}


static ngx_int_t
ngx_http_faas_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_faas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_faas_module);

    if (ctx == NULL || ctx->stage != NGX_HTTP_FAAS_ADMITTED) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upstream \"%V\" uses \"faas_balancer\" but the "
                      "location has no \"faas_pass\"", &us->host);
        return NGX_ERROR;
    }

    r->upstream->peer.data = ctx;
    r->upstream->peer.get = ngx_http_faas_upstream_get_peer;
    r->upstream->peer.free = ngx_http_faas_upstream_free_peer;

    /* the slot taken at admission, then one try on each replica that has
     * not refused this request yet */

    r->upstream->peer.tries = 1 + ngx_min(ctx->revision->shm->nready,
                                          NGX_HTTP_FAAS_TRIED_MAX);

    return NGX_OK;
}


static ngx_int_t
ngx_http_faas_upstream_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_faas_ctx_t *ctx = data;

    /* a retry: the replica tried last refused or failed */

    if (ctx->replica == NULL && ngx_http_faas_take_slot(ctx) != NGX_OK) {

        if (ngx_http_faas_replay(ctx) == NGX_OK) {
            /* parked again: no further try, and no "no live upstreams" */
            pc->tries = 0;
            return NGX_DECLINED;
        }

        return NGX_BUSY;
    }

    pc->sockaddr = &ctx->peer.sockaddr.sockaddr;
    pc->socklen = ctx->peer.socklen;
    pc->name = &ctx->peer.name;

    return NGX_OK;
}


static void
ngx_http_faas_upstream_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_faas_ctx_t *ctx = data;

    if (ctx->replica == NULL) {
        return;
    }

    if (state & NGX_PEER_FAILED) {
        ngx_http_faas_replica_failed(ctx->revision, ctx->replica);

        /* the pointer is only compared from now on: once the slot is given
         * back the replica may be freed and its memory reused, at worst
         * costing this one request a try */

        if (ctx->tried == NULL) {
            ctx->tried = ngx_palloc(ctx->request->pool,
                                    NGX_HTTP_FAAS_TRIED_MAX
                                    * sizeof(ngx_http_faas_replica_t *));
        }

        if (ctx->tried && ctx->ntried < NGX_HTTP_FAAS_TRIED_MAX) {
            ctx->tried[ctx->ntried++] = ctx->replica;
        }
    }

    ngx_http_faas_give_back(ctx);

    if (pc->tries) {
        pc->tries--;
    }
}
