/*
 * Copyright (C) nginx-faas developers
 *
 * The request queue.  A routed request that finds no ready replica with a
 * free slot is parked in its worker, in its revision's FIFO, after its body
 * has been read (spooled to a file past client_body_buffer_size, as nginx
 * does), so that a slow upload never holds a replica slot.  A parked
 * request holds nothing upstream; it is released, oldest first, as soon as
 * a slot can be taken for it: when a replica is published (pub/sub), when a
 * request of the revision ends in this worker, or when another worker says
 * that one ended there.  Each release takes one slot, so a new replica with
 * "concurrency 4" receives 4 requests, not the whole queue.
 *
 * Bounds come from "queue size= timeout=": past size places (this nginx,
 * all workers) the answer is 503 with Retry-After, past timeout 504; a
 * client that leaves while parked loses its place and nothing is sent.
 *
 * Workers tell each other that a slot was freed through one eventfd per
 * worker, created by the master before the workers fork.
 */


#include "ngx_http_faas_module.h"

#include <sys/eventfd.h>


/* a safety net for wake-ups that cannot arrive by eventfd: workers of an
 * older generation, still draining after a reload, share the zone but not
 * the descriptors */
#define NGX_HTTP_FAAS_QUEUE_RECHECK_MS  1000

/* releases stop while the worker has fewer free connections than this: a
 * released request needs one to reach its replica, and a function without
 * a concurrency limit would otherwise take all of them at once */
#define NGX_HTTP_FAAS_SPARE_CONNECTIONS  32

/* a request refused by every replica goes back to the queue this often at
 * most, then gets the 502 */
#define NGX_HTTP_FAAS_REPLAYS_MAX       3


typedef struct {
    ngx_int_t                       *fds;       /* one per worker */
    ngx_uint_t                       nfds;
} ngx_http_faas_notify_t;


static ngx_int_t ngx_http_faas_queue_reserve(ngx_http_faas_ctx_t *ctx);
static void ngx_http_faas_queue_leave(ngx_http_faas_ctx_t *ctx);
static void ngx_http_faas_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_faas_park(ngx_http_request_t *r,
    ngx_http_faas_ctx_t *ctx);
static void ngx_http_faas_enqueue(ngx_http_request_t *r,
    ngx_http_faas_ctx_t *ctx, ngx_msec_t timeout);
static void ngx_http_faas_unpark(ngx_http_faas_ctx_t *ctx);
static void ngx_http_faas_release(ngx_http_faas_ctx_t *ctx);
static void ngx_http_faas_release_handler(ngx_event_t *ev);
static void ngx_http_faas_timeout_handler(ngx_event_t *ev);
static void ngx_http_faas_timed_out(ngx_http_request_t *r,
    ngx_http_faas_ctx_t *ctx);
static void ngx_http_faas_queue_abort(void *data);
static void ngx_http_faas_notify_others(void);
static void ngx_http_faas_notify_handler(ngx_event_t *ev);
static void ngx_http_faas_recheck_handler(ngx_event_t *ev);
typedef void (*ngx_http_faas_revision_handler_pt)(
    ngx_http_faas_revision_conf_t *rev);

static void ngx_http_faas_queue_wake_all(void);
static void ngx_http_faas_queue_each_parked(
    ngx_http_faas_revision_handler_pt handler);
static void ngx_http_faas_queue_resend_wake(
    ngx_http_faas_revision_conf_t *rev);
static void ngx_http_faas_notify_close(void *data);


static ngx_http_faas_notify_t  ngx_http_faas_notify;
static ngx_connection_t       *ngx_http_faas_notify_conn;
static ngx_event_t             ngx_http_faas_recheck;
static ngx_uint_t              ngx_http_faas_parked_total;
static ngx_uint_t              ngx_http_faas_releasing;   /* posted */


/*
 * Lets a routed request go on to proxy_pass with a slot, or starts its
 * wait.  Returns what the phase handler returns.
 */

ngx_int_t
ngx_http_faas_admit(ngx_http_request_t *r, ngx_http_faas_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_http_cleanup_t             *cln;
    ngx_http_faas_shm_revision_t   *srev;

    srev = ctx->revision->shm;

    /* while others wait for this revision a newcomer waits behind them,
     * so that requests pass in the order they came */

    if (srev->parked == 0 && ngx_http_faas_take_slot(ctx) == NGX_OK) {
        ctx->stage = NGX_HTTP_FAAS_ADMITTED;
        ctx->status = NGX_HTTP_FAAS_ST_PASSED;
        return NGX_DECLINED;
    }

    if (ngx_http_faas_queue_reserve(ctx) != NGX_OK) {
        (void) ngx_atomic_fetch_add(&srev->rejected, 1);

        ctx->status = NGX_HTTP_FAAS_ST_REJECTED;

        rc = ngx_http_faas_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      ctx->function->queue_size
                                      ? "queue full" : "no ready replica",
                                      &ctx->function->name,
                                      &ctx->revision->name);
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    /* a client that goes away while waiting must lose its place before the
     * request is logged, so the abort is handled by a request cleanup */

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        ngx_http_faas_queue_leave(ctx);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_faas_queue_abort;
    cln->data = ctx;

    if (srev->nready == 0) {
        ctx->cold = 1;

        /* one wake signal per cold revision, whichever worker parks first;
         * a replica coming up clears the flag */

        if (ngx_atomic_cmp_set(&srev->wake_sent, 0, 1)) {
            (void) ngx_atomic_fetch_add(&srev->cold_starts, 1);
            ngx_http_faas_sync_wake(ctx->revision);
        }
    }

    ctx->stage = NGX_HTTP_FAAS_READING_BODY;

    rc = ngx_http_read_client_request_body(r, ngx_http_faas_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_faas_queue_leave(ctx);
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


/*
 * The phase handler runs again for a request that left it waiting: its
 * body is in, or it was released with a slot.
 */

ngx_int_t
ngx_http_faas_resume(ngx_http_request_t *r, ngx_http_faas_ctx_t *ctx)
{
    switch (ctx->stage) {

    case NGX_HTTP_FAAS_READING_BODY:
        return ngx_http_faas_park(r, ctx);

    case NGX_HTTP_FAAS_PARKED:
        return NGX_AGAIN;

    default: /* NGX_HTTP_FAAS_ADMITTED */
        return NGX_DECLINED;
    }
}


static void
ngx_http_faas_body_read(ngx_http_request_t *r)
{
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


static ngx_int_t
ngx_http_faas_park(ngx_http_request_t *r, ngx_http_faas_ctx_t *ctx)
{
    ngx_msec_t  waited;

    waited = ngx_current_msec - ctx->wait->started;

    if (waited >= ctx->function->queue_timeout_ms) {
        /* the body alone took longer than the queue allows */
        ngx_http_faas_timed_out(r, ctx);
        return NGX_DONE;
    }

    ngx_http_faas_enqueue(r, ctx, ctx->function->queue_timeout_ms - waited);

    return NGX_AGAIN;
}


/*
 * Puts a request that holds a queue place at the end of its revision's
 * FIFO, with its timeout, then releases what can go now (a slot may have
 * freed meanwhile; then the request may be released at once).
 */

static void
ngx_http_faas_enqueue(ngx_http_request_t *r, ngx_http_faas_ctx_t *ctx,
    ngx_msec_t timeout)
{
    ngx_http_faas_revision_conf_t  *rev;

    rev = ctx->revision;

    ctx->stage = NGX_HTTP_FAAS_PARKED;

    ngx_queue_insert_tail(&rev->parked, &ctx->wait->queue);
    rev->nparked++;
    ngx_http_faas_parked_total++;

    ctx->wait->event.handler = ngx_http_faas_timeout_handler;
    ctx->wait->event.data = r;
    ctx->wait->event.log = r->connection->log;

    ngx_add_timer(&ctx->wait->event, timeout);

    if (!ngx_http_faas_recheck.timer_set) {
        ngx_add_timer(&ngx_http_faas_recheck, NGX_HTTP_FAAS_QUEUE_RECHECK_MS);
    }

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_faas_queue_wake(rev);
}


/*
 * Every ready replica refused the request's connection, so nothing of it
 * reached a function: it is safe to replay, whatever its method.  Instead
 * of the 502 nginx would answer, the upstream attempt is ended without an
 * answer and the request waits in the queue again for a replica that
 * takes it (the controller replaces one that refuses).  Called from the
 * balancer when it has no replica left to try.  Returns NGX_OK when the
 * request is parked again, NGX_DECLINED when it cannot be (something was
 * sent, the body was not kept, no queue place, replayed too often).
 */

ngx_int_t
ngx_http_faas_replay(ngx_http_faas_ctx_t *ctx)
{
    ngx_http_request_t   *r;
    ngx_http_upstream_t  *u;

    r = ctx->request;
    u = r->upstream;

    if (r != r->main || u == NULL || u->cleanup == NULL || u->request_sent
        || r->request_body_no_buffering
        || ctx->replays >= NGX_HTTP_FAAS_REPLAYS_MAX)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_faas_queue_reserve(ctx) != NGX_OK) {
        return NGX_DECLINED;
    }

    ctx->replays++;
    (void) ngx_atomic_fetch_add(&ctx->revision->shm->replays, 1);

    /* the replicas that refused are avoided for a while rather than
     * excluded for good: one may recover, or come back at its address */
    ctx->ntried = 0;

    /*
     * Ending the upstream here, and the failure nginx reports when the
     * balancer returns, both finalize the request with NGX_DONE: the two
     * references taken now keep it alive, parked.
     */

    r->main->count += 2;
    (*u->cleanup)(r);

    ctx->cold = (ctx->revision->shm->nready == 0);

    ngx_http_faas_enqueue(r, ctx, ctx->function->queue_timeout_ms);

    return NGX_OK;
}


/*
 * Releases parked requests of rev, oldest first, for as long as a slot can
 * be taken for the next one and the worker has connections to spare.  A
 * replayed request that finds only the replicas that refused it lately
 * stays, and those behind it go on: it waits for another condition (a new
 * replica, or the end of the refusal's grace) than they do.
 */

void
ngx_http_faas_queue_wake(ngx_http_faas_revision_conf_t *rev)
{
    ngx_queue_t           *q, *next;
    ngx_http_faas_ctx_t   *ctx;
    ngx_http_faas_wait_t  *wait;

    for (q = ngx_queue_head(&rev->parked);
         q != ngx_queue_sentinel(&rev->parked);
         q = next)
    {
        next = ngx_queue_next(q);

        /* released requests take their upstream connection only when
         * their posted event runs: count them as taken already */

        if (ngx_cycle->free_connection_n
            <= ngx_http_faas_releasing + NGX_HTTP_FAAS_SPARE_CONNECTIONS)
        {
            /* the rest go as requests end and give connections back */
            return;
        }

        wait = ngx_queue_data(q, ngx_http_faas_wait_t, queue);
        ctx = wait->ctx;

        if (ngx_http_faas_take_slot(ctx) == NGX_OK) {
            ngx_http_faas_release(ctx);
            continue;
        }

        if (ctx->replays == 0) {
            return;
        }
    }
}


/*
 * A request of rev ended in this worker.  Its slot goes to this worker's
 * queue first; when other workers hold waiting requests of rev they are
 * told to try too.
 */

void
ngx_http_faas_queue_slot_freed(ngx_http_faas_revision_conf_t *rev)
{
    if (rev->nparked) {
        ngx_http_faas_queue_wake(rev);
    }

    if (rev->shm->parked > rev->nparked) {
        ngx_http_faas_notify_others();
    }
}


static void
ngx_http_faas_release(ngx_http_faas_ctx_t *ctx)
{
    ngx_http_faas_shm_revision_t  *srev;

    srev = ctx->revision->shm;

    ngx_http_faas_unpark(ctx);

    ctx->wait_ms = ngx_current_msec - ctx->wait->started;

    (void) ngx_atomic_fetch_add(&srev->waits, 1);
    (void) ngx_atomic_fetch_add(&srev->wait_ms, ctx->wait_ms);

    ngx_http_faas_queue_leave(ctx);

    ctx->stage = NGX_HTTP_FAAS_ADMITTED;
    ctx->status = NGX_HTTP_FAAS_ST_QUEUED;

    /* go on from a posted event: the caller may be in the middle of
     * another request's finalization or of a Redis reply */

    ctx->wait->event.handler = ngx_http_faas_release_handler;
    ngx_post_event(&ctx->wait->event, &ngx_posted_events);
    ngx_http_faas_releasing++;
}


static void
ngx_http_faas_release_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;

    ngx_http_faas_releasing--;

    ngx_http_set_log_request(c->log, r);

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_faas_timeout_handler(ngx_event_t *ev)
{
    ngx_connection_t     *c;
    ngx_http_request_t   *r;
    ngx_http_faas_ctx_t  *ctx;

    r = ev->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_faas_module);

    ngx_http_set_log_request(c->log, r);

    ngx_http_faas_unpark(ctx);
    ngx_http_faas_timed_out(r, ctx);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_faas_timed_out(ngx_http_request_t *r, ngx_http_faas_ctx_t *ctx)
{
    ngx_int_t  rc;

    ctx->wait_ms = ngx_current_msec - ctx->wait->started;
    ctx->status = NGX_HTTP_FAAS_ST_TIMEOUT;

    (void) ngx_atomic_fetch_add(&ctx->revision->shm->timeouts, 1);

    ngx_http_faas_queue_leave(ctx);

    r->read_event_handler = ngx_http_block_reading;

    rc = ngx_http_faas_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                  "no replica became ready in time",
                                  &ctx->function->name, &ctx->revision->name);

    ngx_http_finalize_request(r, rc);
}


/*
 * The request is terminated while it holds a queue place (parked or still
 * reading its body): the client went away.
 */

static void
ngx_http_faas_queue_abort(void *data)
{
    ngx_http_faas_ctx_t *ctx = data;

    if (!ctx->queued) {
        return;
    }

    ngx_http_faas_unpark(ctx);

    ctx->wait_ms = ngx_current_msec - ctx->wait->started;
    ctx->status = NGX_HTTP_FAAS_ST_ABORTED;

    (void) ngx_atomic_fetch_add(&ctx->revision->shm->aborted, 1);

    ngx_http_faas_queue_leave(ctx);
}


/* takes the request out of its FIFO and cancels its timeout */

static void
ngx_http_faas_unpark(ngx_http_faas_ctx_t *ctx)
{
    if (ctx->stage != NGX_HTTP_FAAS_PARKED) {
        return;
    }

    ngx_queue_remove(&ctx->wait->queue);
    ctx->revision->nparked--;
    ngx_http_faas_parked_total--;

    if (ctx->wait->event.timer_set) {
        ngx_del_timer(&ctx->wait->event);
    }

    ctx->stage = NGX_HTTP_FAAS_READING_BODY;
}


/*
 * Takes one of the function's queue places.  The count is shared by every
 * worker of this nginx, so "size=" bounds the instance, not the worker.
 */

static ngx_int_t
ngx_http_faas_queue_reserve(ngx_http_faas_ctx_t *ctx)
{
    ngx_atomic_uint_t              queued;
    ngx_http_faas_shm_function_t  *sfn;

    if (ctx->wait == NULL) {
        ctx->wait = ngx_pcalloc(ctx->request->pool,
                                sizeof(ngx_http_faas_wait_t));
        if (ctx->wait == NULL) {
            return NGX_ERROR;
        }

        ctx->wait->ctx = ctx;
    }

    sfn = ctx->function->shm;

    for ( ;; ) {
        queued = sfn->queued;

        if (queued >= ctx->function->queue_size) {
            return NGX_DECLINED;
        }

        if (ngx_atomic_cmp_set(&sfn->queued, queued, queued + 1)) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&ctx->revision->shm->parked, 1);

    ctx->queued = 1;
    ctx->wait->started = ngx_current_msec;

    return NGX_OK;
}


static void
ngx_http_faas_queue_leave(ngx_http_faas_ctx_t *ctx)
{
    if (!ctx->queued) {
        return;
    }

    ctx->queued = 0;

    (void) ngx_atomic_fetch_add(&ctx->revision->shm->parked, -1);
    (void) ngx_atomic_fetch_add(&ctx->function->shm->queued, -1);
}


/*
 * Gives back whatever the request still holds when its pool goes: a queue
 * place, a place in the FIFO, a posted release, a slot.  Normally nothing
 * is left by then; this is what makes every count return to zero however
 * a request ends.
 */

void
ngx_http_faas_request_done(ngx_http_faas_ctx_t *ctx)
{
    ngx_http_faas_unpark(ctx);

    if (ctx->wait && ctx->wait->event.posted) {
        ngx_delete_posted_event(&ctx->wait->event);
        ngx_http_faas_releasing--;
    }

    ngx_http_faas_queue_leave(ctx);
    ngx_http_faas_give_back(ctx);
}


ngx_int_t
ngx_http_faas_queue_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t           i;
    ngx_core_conf_t     *ccf;
    ngx_pool_cleanup_t  *cln;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    ngx_http_faas_notify.nfds = 0;
    ngx_http_faas_notify.fds = ngx_palloc(cycle->pool,
                                          ccf->worker_processes
                                          * sizeof(ngx_int_t));
    if (ngx_http_faas_notify.fds == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_faas_notify_close;
    cln->data = ngx_pcalloc(cycle->pool, sizeof(ngx_http_faas_notify_t));

    if (cln->data == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < (ngx_uint_t) ccf->worker_processes; i++) {
        ngx_http_faas_notify.fds[i] = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);

        if (ngx_http_faas_notify.fds[i] == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "eventfd() failed");
            return NGX_ERROR;
        }

        ngx_http_faas_notify.nfds++;
    }

    /* the master closes this generation's descriptors with its cycle */
    *(ngx_http_faas_notify_t *) cln->data = ngx_http_faas_notify;

    return NGX_OK;
}


static void
ngx_http_faas_notify_close(void *data)
{
    ngx_http_faas_notify_t *notify = data;

    ngx_uint_t  i;

    for (i = 0; i < notify->nfds; i++) {
        (void) close(notify->fds[i]);
    }
}


ngx_int_t
ngx_http_faas_queue_init_process(ngx_cycle_t *cycle)
{
    ngx_connection_t  *c;

    ngx_http_faas_recheck.handler = ngx_http_faas_recheck_handler;
    ngx_http_faas_recheck.log = cycle->log;
    ngx_http_faas_recheck.cancelable = 1;

    if (ngx_process != NGX_PROCESS_WORKER
        || ngx_worker >= ngx_http_faas_notify.nfds)
    {
        return NGX_OK;
    }

    c = ngx_get_connection(ngx_http_faas_notify.fds[ngx_worker], cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->read->handler = ngx_http_faas_notify_handler;
    c->read->log = cycle->log;
    c->data = NULL;

    if (ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_free_connection(c);
        return NGX_ERROR;
    }

    ngx_http_faas_notify_conn = c;

    return NGX_OK;
}


void
ngx_http_faas_queue_exit_process(void)
{
    ngx_connection_t  *c;

    c = ngx_http_faas_notify_conn;

    if (c == NULL) {
        return;
    }

    /* nginx counts every connection still open at exit as a leak */

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    ngx_http_faas_notify_conn = NULL;
}


static void
ngx_http_faas_notify_others(void)
{
    uint64_t    one;
    ngx_uint_t  i;

    one = 1;

    for (i = 0; i < ngx_http_faas_notify.nfds; i++) {
        if (i != ngx_worker) {
            /* EAGAIN means the counter is full: a wake-up is pending */
            if (write(ngx_http_faas_notify.fds[i], &one, sizeof(one)) == -1
                && ngx_errno != NGX_EAGAIN)
            {
                ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                              "faas: write() to eventfd failed");
            }
        }
    }
}


static void
ngx_http_faas_notify_handler(ngx_event_t *ev)
{
    uint64_t           count;
    ngx_connection_t  *c;

    c = ev->data;

    if (read(c->fd, &count, sizeof(count)) == -1 && ngx_errno != NGX_EAGAIN) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_errno,
                      "faas: read() from eventfd failed");
    }

    if (ngx_http_faas_parked_total) {
        ngx_http_faas_queue_wake_all();
    }
}


static void
ngx_http_faas_recheck_handler(ngx_event_t *ev)
{
    if (ngx_http_faas_parked_total == 0) {
        return;
    }

    ngx_http_faas_queue_wake_all();

    if (ngx_http_faas_parked_total) {
        ngx_add_timer(ev, NGX_HTTP_FAAS_QUEUE_RECHECK_MS);
    }
}


/* wakes every revision with requests parked in this worker */

static void
ngx_http_faas_queue_wake_all(void)
{
    ngx_http_faas_queue_each_parked(ngx_http_faas_queue_wake);
}


/* calls handler for every revision with requests parked in this worker */

static void
ngx_http_faas_queue_each_parked(ngx_http_faas_revision_handler_pt handler)
{
    ngx_uint_t                       i, j;
    ngx_http_faas_main_conf_t       *fmcf;
    ngx_http_faas_function_conf_t  **fnp;
    ngx_http_faas_revision_conf_t   *rev;

    fmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_faas_module);
    fnp = fmcf->functions.elts;

    for (i = 0; i < fmcf->functions.nelts; i++) {
        rev = fnp[i]->revisions.elts;

        for (j = 0; j < fnp[i]->revisions.nelts; j++) {
            if (rev[j].nparked) {
                handler(&rev[j]);
            }
        }
    }
}


/*
 * After Redis comes back: revisions that still have requests waiting for
 * a first replica ask again, in case the signal sent meanwhile was lost.
 */

void
ngx_http_faas_queue_resend_wakes(void)
{
    ngx_http_faas_queue_each_parked(ngx_http_faas_queue_resend_wake);
}


static void
ngx_http_faas_queue_resend_wake(ngx_http_faas_revision_conf_t *rev)
{
    if (rev->shm->nready == 0) {
        ngx_http_faas_sync_wake(rev);
    }
}
