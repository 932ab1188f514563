/*
 * Copyright (C) nginx-faas developers
 *
 * The shared zone: functions, revisions and their ready replicas, seen by
 * every worker.  The slab mutex guards the lists; functions that expect it
 * held end in "_locked".  Counters are atomics and need no lock.
 *
 * A replica that is unpublished is not freed at once: it stays, marked
 * gone, while requests are in flight on it (they hold pointers to it and
 * the status page shows it draining), and a while after that, so that an
 * endpoint resync answer that left Redis before the removal cannot bring
 * it back.
 */


#include "ngx_http_faas_module.h"


static ngx_int_t ngx_http_faas_shm_link_locked(ngx_http_faas_zone_t *zone,
    ngx_http_faas_function_conf_t *fn);
static ngx_http_faas_replica_t *ngx_http_faas_replica_find_locked(
    ngx_http_faas_shm_revision_t *srev, ngx_str_t *id);
static ngx_http_faas_replica_t *ngx_http_faas_replica_add_locked(
    ngx_http_faas_zone_t *zone, ngx_http_faas_shm_revision_t *srev,
    ngx_str_t *id);
static void ngx_http_faas_replica_set_locked(ngx_http_faas_shm_revision_t *srev,
    ngx_http_faas_replica_t *rp, ngx_str_t *addr, struct sockaddr_storage *sa,
    socklen_t socklen);
static void ngx_http_faas_replica_gone_locked(
    ngx_http_faas_shm_revision_t *srev, ngx_http_faas_replica_t *rp);
static void ngx_http_faas_replicas_sweep_locked(ngx_http_faas_zone_t *zone,
    ngx_http_faas_shm_revision_t *srev);


ngx_int_t
ngx_http_faas_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_faas_zone_t *ozone = data;

    size_t                           len;
    ngx_int_t                        rc;
    ngx_uint_t                       i;
    ngx_http_faas_zone_t            *zone;
    ngx_http_faas_function_conf_t  **fnp;

    zone = shm_zone->data;

    if (ozone) {
        /* a reload with the zone unchanged: counters and replicas live on */
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;

    } else {
        zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            zone->sh = zone->shpool->data;

        } else {
            zone->sh = ngx_slab_alloc(zone->shpool,
                                      sizeof(ngx_http_faas_shm_t));
            if (zone->sh == NULL) {
                return NGX_ERROR;
            }

            zone->shpool->data = zone->sh;

            ngx_rbtree_init(&zone->sh->functions, &zone->sh->sentinel,
                            ngx_str_rbtree_insert_value);

            len = sizeof(" in faas_zone \"\"") + shm_zone->shm.name.len;

            zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
            if (zone->shpool->log_ctx == NULL) {
                return NGX_ERROR;
            }

            ngx_sprintf(zone->shpool->log_ctx, " in faas_zone \"%V\"%Z",
                        &shm_zone->shm.name);

            zone->shpool->log_nomem = 0;
        }
    }

    /* the configuration's functions find their nodes (or get new ones) */

    fnp = zone->fmcf->functions.elts;
    rc = NGX_OK;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < zone->fmcf->functions.nelts; i++) {
        if (ngx_http_faas_shm_link_locked(zone, fnp[i]) != NGX_OK) {
            rc = NGX_ERROR;
            break;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "faas_zone \"%V\" is too small for %ui functions",
                      &shm_zone->shm.name, zone->fmcf->functions.nelts);
    }

    return rc;
}


static ngx_int_t
ngx_http_faas_shm_link_locked(ngx_http_faas_zone_t *zone,
    ngx_http_faas_function_conf_t *fn)
{
    uint32_t                        hash;
    ngx_uint_t                      i;
    ngx_queue_t                    *q;
    ngx_http_faas_shm_function_t   *sfn;
    ngx_http_faas_shm_revision_t   *srev;
    ngx_http_faas_revision_conf_t  *rev;

    hash = ngx_crc32_short(fn->name.data, fn->name.len);

    sfn = (ngx_http_faas_shm_function_t *)
              ngx_str_rbtree_lookup(&zone->sh->functions, &fn->name, hash);

    if (sfn == NULL) {
        sfn = ngx_slab_alloc_locked(zone->shpool,
                                    sizeof(ngx_http_faas_shm_function_t));
        if (sfn == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(sfn, sizeof(ngx_http_faas_shm_function_t));

        ngx_memcpy(sfn->name, fn->name.data, fn->name.len);
        sfn->sn.str.data = sfn->name;
        sfn->sn.str.len = fn->name.len;
        sfn->sn.node.key = hash;
        ngx_queue_init(&sfn->revisions);

        ngx_rbtree_insert(&zone->sh->functions, &sfn->sn.node);
    }

    fn->shm = sfn;

    rev = fn->revisions.elts;

    for (i = 0; i < fn->revisions.nelts; i++) {

        for (q = ngx_queue_head(&sfn->revisions);
             q != ngx_queue_sentinel(&sfn->revisions);
             q = ngx_queue_next(q))
        {
            srev = ngx_queue_data(q, ngx_http_faas_shm_revision_t, queue);

            if (srev->name_len == rev[i].name.len
                && ngx_strncmp(srev->name, rev[i].name.data, srev->name_len)
                   == 0)
            {
                goto found;
            }
        }

        srev = ngx_slab_alloc_locked(zone->shpool,
                                     sizeof(ngx_http_faas_shm_revision_t));
        if (srev == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(srev, sizeof(ngx_http_faas_shm_revision_t));

        ngx_memcpy(srev->name, rev[i].name.data, rev[i].name.len);
        srev->name_len = rev[i].name.len;
        srev->report.desired = -1;
        ngx_queue_init(&srev->replicas);

        ngx_queue_insert_tail(&sfn->revisions, &srev->queue);

    found:

        rev[i].shm = srev;
    }

    return NGX_OK;
}


/*
 * Reserves one request slot on the ready replica of rev with the fewest
 * requests in flight, skipping those at the function's concurrency limit
 * and those in exclude (they refused this request already).  Replicas that
 * refused a connection lately are used only when nothing else is left, and
 * never when strict is set (for a request that was refused everywhere and
 * waits again: it must not go straight back); ties are broken at random so
 * that idle replicas share the load.  Returns the
 * replica, whose slot the caller must give back with
 * ngx_http_faas_replica_release(), and copies its address to *peer; or
 * returns NULL when none can take the request.
 */

ngx_http_faas_replica_t *
ngx_http_faas_replica_acquire(ngx_shm_zone_t *shm_zone,
    ngx_http_faas_function_conf_t *fn, ngx_http_faas_revision_conf_t *rev,
    ngx_http_faas_replica_t **exclude, ngx_uint_t nexclude,
    ngx_uint_t strict, ngx_http_faas_peer_t *peer)
{
    ngx_uint_t                     i, ties, avoided_ties, avoid;
    ngx_msec_t                     now;
    ngx_queue_t                   *q;
    ngx_atomic_uint_t              load;
    ngx_http_faas_zone_t          *zone;
    ngx_http_faas_replica_t       *rp, *best, *best_avoided;
    ngx_http_faas_shm_revision_t  *srev;

    zone = shm_zone->data;
    srev = rev->shm;
    now = ngx_current_msec;

    best = NULL;
    best_avoided = NULL;
    ties = 0;
    avoided_ties = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&srev->replicas);
         q != ngx_queue_sentinel(&srev->replicas);
         q = ngx_queue_next(q))
    {
        rp = ngx_queue_data(q, ngx_http_faas_replica_t, queue);

        if (rp->state != NGX_HTTP_FAAS_REPLICA_READY) {
            continue;
        }

        load = rp->in_flight;

        if (fn->concurrency && load >= fn->concurrency) {
            continue;
        }

        for (i = 0; i < nexclude; i++) {
            if (exclude[i] == rp) {
                break;
            }
        }

        if (i < nexclude) {
            continue;
        }

        avoid = (ngx_msec_int_t) (rp->avoid_until - now) > 0;

        if (avoid && strict) {
            continue;
        }

        if (avoid) {
            if (best_avoided == NULL || load < best_avoided->in_flight) {
                best_avoided = rp;
                avoided_ties = 1;

            } else if (load == best_avoided->in_flight
                       && ngx_random() % ++avoided_ties == 0)
            {
                best_avoided = rp;
            }

            continue;
        }

        if (best == NULL || load < best->in_flight) {
            best = rp;
            ties = 1;

        } else if (load == best->in_flight && ngx_random() % ++ties == 0) {
            best = rp;
        }
    }

    if (best == NULL) {
        best = best_avoided;
    }

    if (best) {
        (void) ngx_atomic_fetch_add(&best->in_flight, 1);
        (void) ngx_atomic_fetch_add(&best->requests, 1);

        ngx_memcpy(&peer->sockaddr, &best->sockaddr, best->socklen);
        peer->socklen = best->socklen;
        ngx_memcpy(peer->text, best->addr, best->addr_len);
        peer->name.data = peer->text;
        peer->name.len = best->addr_len;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return best;
}


/*
 * Gives back a slot taken by ngx_http_faas_replica_acquire().  The replica
 * may be freed by another worker as soon as this returns.
 */

void
ngx_http_faas_replica_release(ngx_http_faas_replica_t *rp)
{
    (void) ngx_atomic_fetch_add(&rp->in_flight, -1);
}


/* called with a slot still held on rp, so rp cannot go away meanwhile */

void
ngx_http_faas_replica_failed(ngx_http_faas_revision_conf_t *rev,
    ngx_http_faas_replica_t *rp)
{
    (void) ngx_atomic_fetch_add(&rp->failures, 1);
    (void) ngx_atomic_fetch_add(&rev->shm->failures, 1);

    rp->avoid_until = ngx_current_msec + NGX_HTTP_FAAS_FAIL_AVOID_MS;
}


/*
 * Applies an endpoint event: "up" makes the replica ready at ep's address,
 * "down" makes it take no new request (it drains).  A replica never seen
 * is recorded either way: as gone, it keeps an older resync answer that
 * still lists it from adding it back.  Returns NGX_ERROR when the zone has
 * no room for it.
 */

ngx_int_t
ngx_http_faas_replica_event(ngx_shm_zone_t *shm_zone,
    ngx_http_faas_revision_conf_t *rev, ngx_http_faas_endpoint_t *ep,
    ngx_uint_t up)
{
    ngx_int_t                      rc;
    ngx_http_faas_zone_t          *zone;
    ngx_http_faas_replica_t       *rp;
    ngx_http_faas_shm_revision_t  *srev;

    zone = shm_zone->data;
    srev = rev->shm;
    rc = NGX_OK;

    ngx_shmtx_lock(&zone->shpool->mutex);

    rp = ngx_http_faas_replica_find_locked(srev, &ep->id);

    if (rp == NULL) {
        rp = ngx_http_faas_replica_add_locked(zone, srev, &ep->id);
    }

    if (rp == NULL) {
        rc = NGX_ERROR;

    } else if (up) {
        ngx_http_faas_replica_set_locked(srev, rp, &ep->addr, &ep->sockaddr,
                                         ep->socklen);
        rp->updated = ngx_current_msec;

    } else {
        ngx_http_faas_replica_gone_locked(srev, rp);
        rp->updated = ngx_current_msec;
    }

    ngx_http_faas_replicas_sweep_locked(zone, srev);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/*
 * Makes rev's replicas match records, the full endpoint set read from Redis
 * by a request sent at requested_at.  Replicas changed by an event since
 * then are left alone: the event is newer than the answer.  Replicas
 * missing from records are removed only when remove is set: a Redis that
 * restarted empty must not take warm traffic's replicas away before the
 * controller has published them again.
 */

void
ngx_http_faas_replicas_resync(ngx_shm_zone_t *shm_zone,
    ngx_http_faas_revision_conf_t *rev, ngx_array_t *records,
    ngx_msec_t requested_at, ngx_uint_t remove)
{
    ngx_uint_t                     i;
    ngx_queue_t                   *q;
    ngx_http_faas_zone_t          *zone;
    ngx_http_faas_replica_t       *rp;
    ngx_http_faas_endpoint_t      *ep;
    ngx_http_faas_shm_revision_t  *srev;

    zone = shm_zone->data;
    srev = rev->shm;
    ep = records->elts;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&srev->replicas);
         q != ngx_queue_sentinel(&srev->replicas);
         q = ngx_queue_next(q))
    {
        rp = ngx_queue_data(q, ngx_http_faas_replica_t, queue);
        rp->seen = 0;
    }

    for (i = 0; i < records->nelts; i++) {
        rp = ngx_http_faas_replica_find_locked(srev, &ep[i].id);

        if (rp == NULL) {
            rp = ngx_http_faas_replica_add_locked(zone, srev, &ep[i].id);
            if (rp == NULL) {
                continue;
            }

            rp->updated = ngx_current_msec;

        } else if ((ngx_msec_int_t) (rp->updated - requested_at) >= 0) {
            rp->seen = 1;
            continue;
        }

        ngx_http_faas_replica_set_locked(srev, rp, &ep[i].addr,
                                         &ep[i].sockaddr, ep[i].socklen);
        rp->seen = 1;
    }

    for (q = ngx_queue_head(&srev->replicas);
         q != ngx_queue_sentinel(&srev->replicas);
         q = ngx_queue_next(q))
    {
        rp = ngx_queue_data(q, ngx_http_faas_replica_t, queue);

        if (remove && !rp->seen && rp->state == NGX_HTTP_FAAS_REPLICA_READY
            && (ngx_msec_int_t) (rp->updated - requested_at) < 0)
        {
            ngx_http_faas_replica_gone_locked(srev, rp);
            rp->updated = ngx_current_msec;
        }
    }

    ngx_http_faas_replicas_sweep_locked(zone, srev);

    ngx_shmtx_unlock(&zone->shpool->mutex);
}



void
ngx_http_faas_revision_report(ngx_shm_zone_t *shm_zone,
    ngx_http_faas_revision_conf_t *rev, ngx_http_faas_revision_report_t *rp)
{
    ngx_http_faas_zone_t  *zone;

    zone = shm_zone->data;

    ngx_shmtx_lock(&zone->shpool->mutex);
    rev->shm->report = *rp;
    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static ngx_http_faas_replica_t *
ngx_http_faas_replica_find_locked(ngx_http_faas_shm_revision_t *srev,
    ngx_str_t *id)
{
    ngx_queue_t              *q;
    ngx_http_faas_replica_t  *rp;

    for (q = ngx_queue_head(&srev->replicas);
         q != ngx_queue_sentinel(&srev->replicas);
         q = ngx_queue_next(q))
    {
        rp = ngx_queue_data(q, ngx_http_faas_replica_t, queue);

        if (rp->id_len == id->len
            && ngx_strncmp(rp->id, id->data, id->len) == 0)
        {
            return rp;
        }
    }

    return NULL;
}


/* a new replica starts as gone: the caller makes it ready if it is */

static ngx_http_faas_replica_t *
ngx_http_faas_replica_add_locked(ngx_http_faas_zone_t *zone,
    ngx_http_faas_shm_revision_t *srev, ngx_str_t *id)
{
    ngx_http_faas_replica_t  *rp;

    if (id->len > NGX_HTTP_FAAS_REPLICA_ID_MAX) {
        return NULL;
    }

    rp = ngx_slab_alloc_locked(zone->shpool, sizeof(ngx_http_faas_replica_t));
    if (rp == NULL) {
        return NULL;
    }

    ngx_memzero(rp, sizeof(ngx_http_faas_replica_t));

    rp->state = NGX_HTTP_FAAS_REPLICA_GONE;
    rp->id_len = id->len;
    ngx_memcpy(rp->id, id->data, id->len);

    ngx_queue_insert_tail(&srev->replicas, &rp->queue);
    srev->nreplicas++;

    return rp;
}


static void
ngx_http_faas_replica_set_locked(ngx_http_faas_shm_revision_t *srev,
    ngx_http_faas_replica_t *rp, ngx_str_t *addr, struct sockaddr_storage *sa,
    socklen_t socklen)
{
    if (rp->state != NGX_HTTP_FAAS_REPLICA_READY) {
        rp->state = NGX_HTTP_FAAS_REPLICA_READY;
        rp->avoid_until = 0;
        srev->nready++;

        /* the cold start is over: the next one sends a new wake signal */
        srev->wake_sent = 0;
    }

    ngx_memcpy(&rp->sockaddr, sa, ngx_min(socklen, sizeof(rp->sockaddr)));
    rp->socklen = socklen;

    rp->addr_len = ngx_min(addr->len, NGX_HTTP_FAAS_ADDR_TEXT_MAX);
    ngx_memcpy(rp->addr, addr->data, rp->addr_len);
}


static void
ngx_http_faas_replica_gone_locked(ngx_http_faas_shm_revision_t *srev,
    ngx_http_faas_replica_t *rp)
{
    if (rp->state == NGX_HTTP_FAAS_REPLICA_READY) {
        srev->nready--;
    }

    rp->state = NGX_HTTP_FAAS_REPLICA_GONE;
}


/* frees replicas that are gone, idle and older than any answer in flight */

static void
ngx_http_faas_replicas_sweep_locked(ngx_http_faas_zone_t *zone,
    ngx_http_faas_shm_revision_t *srev)
{
    ngx_queue_t              *q, *next;
    ngx_http_faas_replica_t  *rp;

    for (q = ngx_queue_head(&srev->replicas);
         q != ngx_queue_sentinel(&srev->replicas);
         q = next)
    {
        next = ngx_queue_next(q);
        rp = ngx_queue_data(q, ngx_http_faas_replica_t, queue);

        if (rp->state == NGX_HTTP_FAAS_REPLICA_GONE
            && rp->in_flight == 0
            && (ngx_msec_int_t) (ngx_current_msec - rp->updated)
               > NGX_HTTP_FAAS_TOMBSTONE_MS)
        {
            ngx_queue_remove(q);
            ngx_slab_free_locked(zone->shpool, rp);
            srev->nreplicas--;
        }
    }
}


/*
 * Copies the counters of every configured revision and its replicas.  The
 * lock is taken twice: once to count, once to copy into memory allocated
 * in between (nothing is allocated while it is held).  Replicas that
 * appear in between are left out of this answer.
 */

ngx_int_t
ngx_http_faas_snapshot(ngx_pool_t *pool, ngx_http_faas_main_conf_t *fmcf,
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

    snap->revisions = ngx_pcalloc(pool, nrevisions
                                       * sizeof(ngx_http_faas_revision_snap_t));
    snap->nrevisions = 0;

    room = nreplicas;

    /* the address text is copied into p, NGX_HTTP_FAAS_ADDR_TEXT_MAX each */

    rs = ngx_palloc(pool, room * (sizeof(ngx_http_faas_replica_snap_t)
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
            vs->in_flight = 0;
            vs->parked = srev->parked;
            vs->requests = srev->requests;
            vs->failures = srev->failures;
            vs->cold_starts = srev->cold_starts;
            vs->rejected = srev->rejected;
            vs->timeouts = srev->timeouts;
            vs->aborted = srev->aborted;
            vs->replays = srev->replays;
            vs->waits = srev->waits;
            vs->wait_ms = srev->wait_ms;
            vs->last_request_ms = srev->last_request_ms;
            vs->report = srev->report;
            vs->replicas = rs;
            vs->nreplicas = 0;

            for (q = ngx_queue_head(&srev->replicas);
                 q != ngx_queue_sentinel(&srev->replicas);
                 q = ngx_queue_next(q))
            {
                rp = ngx_queue_data(q, ngx_http_faas_replica_t, queue);

                vs->in_flight += rp->in_flight;

                /* a replica that is gone and idle is only a tombstone */

                if ((rp->state != NGX_HTTP_FAAS_REPLICA_READY
                     && rp->in_flight == 0)
                    || room == 0)
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
