/*
 * Copyright (C) nginx-faas developers
 *
 * Keeps the zone's ready replicas in step with Redis.  The controller
 * writes each revision's endpoints to a hash and announces every change on
 * the endpoints channel; each worker applies the announcements as they
 * arrive (so a new replica takes traffic at once, in every worker, without
 * a reload) and reads the hashes in full when its links come back and on a
 * timer, to repair anything it missed.
 *
 *   HGETALL <prefix>endpoints:<function>:<revision>  -> id => "addr:port"
 *   PUBLISH <prefix>ch:endpoints "up <fn> <rev> <id> <addr:port>"
 *                                "down <fn> <rev> <id>"
 *   EXISTS  <prefix>controller   -> the controller's heartbeat
 *
 * A resync adds and updates replicas, but removes those missing from a
 * hash only while the controller's heartbeat key exists: after Redis comes
 * back empty, the hashes say nothing until the controller has published
 * again, and warm traffic keeps its replicas meanwhile.  "down" events
 * always apply.
 *
 * It also sends the wake signal of a cold revision the other way.
 */


#include "ngx_http_faas_module.h"


typedef struct {
    ngx_pool_t                       *pool;
    ngx_uint_t                        outstanding;
    ngx_msec_t                        requested_at;
    ngx_uint_t                        controller_alive;
} ngx_http_faas_resync_t;


typedef struct {
    ngx_http_faas_resync_t           *resync;
    ngx_http_faas_function_conf_t    *function;
    ngx_http_faas_revision_conf_t    *revision;
} ngx_http_faas_resync_item_t;


static u_char *ngx_http_faas_redis_key(u_char *buf, u_char *last,
    ngx_http_faas_redis_conf_t *rcf, const char *kind,
    ngx_http_faas_revision_conf_t *rev);
static void ngx_http_faas_sync_connected(void);
static void ngx_http_faas_sync_subscribed(void);
static void ngx_http_faas_sync_message(ngx_str_t *channel, ngx_str_t *payload);
static void ngx_http_faas_sync_endpoint_event(ngx_str_t *payload);
static void ngx_http_faas_sync_timer_handler(ngx_event_t *ev);
static void ngx_http_faas_resync_start(void);
static void ngx_http_faas_resync_reply(void *reply, void *data);
static void ngx_http_faas_resync_heartbeat(void *reply, void *data);
static void ngx_http_faas_resync_status(void *reply, void *data);
static void ngx_http_faas_resync_done(ngx_http_faas_resync_t *rs);


static ngx_http_faas_main_conf_t      *ngx_http_faas_sync_conf;
static ngx_http_faas_redis_handlers_t  ngx_http_faas_sync_handlers;
static ngx_event_t                     ngx_http_faas_sync_timer;
static ngx_http_faas_resync_t         *ngx_http_faas_resync_running;
static ngx_uint_t                      ngx_http_faas_resync_again;
static ngx_str_t                       ngx_http_faas_sync_instance;


ngx_int_t
ngx_http_faas_sync_init_process(ngx_cycle_t *cycle,
    ngx_http_faas_main_conf_t *fmcf)
{
    ngx_http_faas_redis_conf_t  *rcf;

    rcf = fmcf->redis;
    ngx_http_faas_sync_conf = fmcf;

    /* this nginx: its host and its master's pid, which stays the same
     * across reloads */

    ngx_http_faas_sync_instance.data = ngx_pnalloc(cycle->pool,
                                                   cycle->hostname.len
                                                   + NGX_INT_T_LEN + 1);
    if (ngx_http_faas_sync_instance.data == NULL) {
        return NGX_ERROR;
    }

    ngx_http_faas_sync_instance.len =
        ngx_sprintf(ngx_http_faas_sync_instance.data, "%V:%P",
                    &cycle->hostname,
                    ngx_process == NGX_PROCESS_WORKER ? getppid() : ngx_pid)
        - ngx_http_faas_sync_instance.data;

    ngx_http_faas_sync_handlers.connected = ngx_http_faas_sync_connected;
    ngx_http_faas_sync_handlers.subscribed = ngx_http_faas_sync_subscribed;
    ngx_http_faas_sync_handlers.message = ngx_http_faas_sync_message;
    ngx_http_faas_sync_handlers.channels = &rcf->names.ch_endpoints;
    ngx_http_faas_sync_handlers.nchannels = 1;

    ngx_http_faas_sync_timer.handler = ngx_http_faas_sync_timer_handler;
    ngx_http_faas_sync_timer.log = cycle->log;
    ngx_http_faas_sync_timer.cancelable = 1;

    ngx_add_timer(&ngx_http_faas_sync_timer, rcf->resync_ms);

    return ngx_http_faas_redis_start(cycle, rcf, &ngx_http_faas_sync_handlers);
}


ngx_str_t *
ngx_http_faas_instance(void)
{
    return &ngx_http_faas_sync_instance;
}


void
ngx_http_faas_sync_exit_process(void)
{
    if (ngx_http_faas_sync_conf == NULL) {
        return;
    }

    if (ngx_http_faas_sync_timer.timer_set) {
        ngx_del_timer(&ngx_http_faas_sync_timer);
    }

    /* replies still due come back as NULL and finish the resync */
    ngx_http_faas_redis_stop();

    ngx_http_faas_sync_conf = NULL;
}


/*
 * Writes "<prefix><kind>:<function>:<revision>" to buf; names are
 * validated DNS labels, so the key needs no escaping.
 */

static u_char *
ngx_http_faas_redis_key(u_char *buf, u_char *last,
    ngx_http_faas_redis_conf_t *rcf, const char *kind,
    ngx_http_faas_revision_conf_t *rev)
{
    return ngx_slprintf(buf, last, "%V%s:%V:%V", &rcf->prefix, kind,
                        &rev->function->name, &rev->name);
}


static void
ngx_http_faas_sync_connected(void)
{
    /* one worker per nginx tells Redis what nginx.conf declares; an old
     * worker finishing its requests after a reload must not undo it */

    if (ngx_worker == 0 && !ngx_exiting) {
        (void) ngx_http_faas_spec_publish(ngx_http_faas_sync_conf,
                                          ngx_cycle->log);
    }

    ngx_http_faas_queue_resend_wakes();
    ngx_http_faas_resync_start();
}


/*
 * Asks for a replica of a revision that has none, at once: a message for
 * a controller that listens, and the time of the demand in a sorted set
 * for one that was not listening.  Flushed now rather than at the next
 * turn of the event loop.
 *
 *   PUBLISH <prefix>ch:wake "<fn> <rev>"
 *   ZADD <prefix>wake <unix ms> "<fn>:<rev>"
 */

void
ngx_http_faas_sync_wake(ngx_http_faas_revision_conf_t *rev)
{
    u_char                      *p, buf[256], *message, *member, *ms;
    size_t                       argvlen[4];
    ngx_time_t                  *tp;
    const char                  *argv[4];
    ngx_http_faas_redis_conf_t  *rcf;

    if (ngx_http_faas_sync_conf == NULL) {
        return;
    }

    rcf = ngx_http_faas_sync_conf->redis;
    tp = ngx_timeofday();

    message = buf;
    member = ngx_sprintf(message, "%V %V", &rev->function->name, &rev->name);
    ms = ngx_sprintf(member, "%V:%V", &rev->function->name, &rev->name);
    p = ngx_sprintf(ms, "%M", (ngx_msec_t) (tp->sec * 1000 + tp->msec));

    argv[0] = "PUBLISH";
    argvlen[0] = sizeof("PUBLISH") - 1;
    argv[1] = (const char *) rcf->names.ch_wake.data;
    argvlen[1] = rcf->names.ch_wake.len;
    argv[2] = (const char *) message;
    argvlen[2] = member - message;

    if (ngx_http_faas_redis_command(NULL, NULL, 3, argv, argvlen) != NGX_OK) {
        /* Redis is away: resent when it is back */
        return;
    }

    argv[0] = "ZADD";
    argvlen[0] = sizeof("ZADD") - 1;
    argv[1] = (const char *) rcf->names.wake.data;
    argvlen[1] = rcf->names.wake.len;
    argv[2] = (const char *) ms;
    argvlen[2] = p - ms;
    argv[3] = (const char *) member;
    argvlen[3] = ms - member;

    (void) ngx_http_faas_redis_command(NULL, NULL, 4, argv, argvlen);

    ngx_http_faas_redis_flush();

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "faas: woke %V/%V", &rev->function->name, &rev->name);
}


static void
ngx_http_faas_sync_subscribed(void)
{
    /* events published while the subscriber was away are lost */
    ngx_http_faas_resync_start();
}


static void
ngx_http_faas_sync_message(ngx_str_t *channel, ngx_str_t *payload)
{
    ngx_str_t  *endpoints;

    endpoints = &ngx_http_faas_sync_conf->redis->names.ch_endpoints;

    if (channel->len == endpoints->len
        && ngx_strncmp(channel->data, endpoints->data, channel->len) == 0)
    {
        ngx_http_faas_sync_endpoint_event(payload);
    }
}


static void
ngx_http_faas_sync_endpoint_event(ngx_str_t *payload)
{
    ngx_uint_t                      up;
    const char                     *error;
    ngx_http_faas_endpoint_t        ep;
    ngx_http_faas_endpoint_msg_t    msg;
    ngx_http_faas_function_conf_t  *fn;
    ngx_http_faas_revision_conf_t  *rev;

    if (ngx_http_faas_parse_endpoint_msg(payload->data, payload->len, &msg,
                                         &error)
        != 0)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "faas: ignored endpoint event \"%*s\": %s",
                      ngx_min(payload->len, 256), payload->data, error);
        return;
    }

    fn = ngx_http_faas_function_find(ngx_http_faas_sync_conf,
                                     (u_char *) msg.function.data,
                                     msg.function.len);
    if (fn == NULL) {
        /* another nginx sharing this Redis may declare it */
        return;
    }

    rev = ngx_http_faas_revision_find(fn, (u_char *) msg.revision.data,
                                      msg.revision.len);
    if (rev == NULL) {
        return;
    }

    up = (msg.op == NGX_HTTP_FAAS_ENDPOINT_UP);

    ep.id.data = (u_char *) msg.replica_id.data;
    ep.id.len = msg.replica_id.len;
    ep.addr.data = (u_char *) msg.address.data;
    ep.addr.len = msg.address.len;

    /* the address was validated by the parser already */

    if (up) {
        (void) ngx_http_faas_parse_address(ep.addr.data, ep.addr.len,
                                           &ep.sockaddr, &ep.socklen, &error);
    }

    if (ngx_http_faas_replica_event(ngx_http_faas_sync_conf->shm_zone, rev,
                                    &ep, up)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "faas_zone \"%V\" is full: replica \"%V\" of %V/%V "
                      "not recorded",
                      &ngx_http_faas_sync_conf->shm_zone->shm.name, &ep.id,
                      &fn->name, &rev->name);
        return;
    }

    if (up) {
        ngx_http_faas_queue_wake(rev);
    }
}


static void
ngx_http_faas_sync_timer_handler(ngx_event_t *ev)
{
    ngx_http_faas_resync_start();

    if (!ngx_exiting) {
        ngx_add_timer(ev, ngx_http_faas_sync_conf->redis->resync_ms);
    }
}


/*
 * Reads every revision's endpoint hash, pipelined.  One resync runs at a
 * time; asking for another while one runs makes it run again at the end,
 * so that an answer requested before the latest reconnect is not the last
 * word.
 */

static void
ngx_http_faas_resync_start(void)
{
    u_char                          key[256], *p;
    size_t                          argvlen[2];
    ngx_pool_t                     *pool;
    ngx_uint_t                      i, j;
    const char                     *argv[2];
    ngx_http_faas_resync_t         *rs;
    ngx_http_faas_main_conf_t      *fmcf;
    ngx_http_faas_resync_item_t    *item;
    ngx_http_faas_function_conf_t **fnp;
    ngx_http_faas_revision_conf_t  *rev;

    if (ngx_http_faas_resync_running) {
        ngx_http_faas_resync_again = 1;
        return;
    }

    if (!ngx_http_faas_redis_connected()) {
        return;
    }

    fmcf = ngx_http_faas_sync_conf;
    ngx_http_faas_resync_again = 0;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    rs = ngx_pcalloc(pool, sizeof(ngx_http_faas_resync_t));
    if (rs == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    rs->pool = pool;
    rs->requested_at = ngx_current_msec;

    ngx_http_faas_resync_running = rs;

    argv[0] = "EXISTS";
    argvlen[0] = sizeof("EXISTS") - 1;
    argv[1] = (const char *) fmcf->redis->names.controller.data;
    argvlen[1] = fmcf->redis->names.controller.len;

    if (ngx_http_faas_redis_command(ngx_http_faas_resync_heartbeat, rs,
                                    2, argv, argvlen)
        != NGX_OK)
    {
        goto sent;
    }

    rs->outstanding++;

    fnp = fmcf->functions.elts;

    for (i = 0; i < fmcf->functions.nelts; i++) {
        rev = fnp[i]->revisions.elts;

        for (j = 0; j < fnp[i]->revisions.nelts; j++) {

            item = ngx_palloc(pool, sizeof(ngx_http_faas_resync_item_t));
            if (item == NULL) {
                goto sent;
            }

            item->resync = rs;
            item->function = fnp[i];
            item->revision = &rev[j];

            p = ngx_http_faas_redis_key(key, key + sizeof(key), fmcf->redis,
                                        "endpoints", &rev[j]);

            argv[0] = "HGETALL";
            argvlen[0] = sizeof("HGETALL") - 1;
            argv[1] = (const char *) key;
            argvlen[1] = p - key;

            if (ngx_http_faas_redis_command(ngx_http_faas_resync_reply, item,
                                            2, argv, argvlen)
                != NGX_OK)
            {
                /* the link broke: the next connect resyncs */
                goto sent;
            }

            rs->outstanding++;

            /* what the controller says of the revision, for the status
             * page: it is not on any request's path */

            p = ngx_http_faas_redis_key(key, key + sizeof(key), fmcf->redis,
                                        "status", &rev[j]);
            argvlen[1] = p - key;

            if (ngx_http_faas_redis_command(ngx_http_faas_resync_status, item,
                                            2, argv, argvlen)
                != NGX_OK)
            {
                goto sent;
            }

            rs->outstanding++;
        }
    }

sent:

    if (rs->outstanding == 0) {
        ngx_http_faas_resync_done(rs);
    }
}


/*
 * One revision's endpoint hash.  Records are checked one by one: a bad one
 * is logged and skipped, the others still apply.
 */

static void
ngx_http_faas_resync_reply(void *reply, void *data)
{
    ngx_http_faas_resync_item_t *item = data;

    ngx_str_t                   id, addr;
    ngx_uint_t                  i, n;
    const char                 *error;
    ngx_array_t                *records;
    ngx_http_faas_resync_t     *rs;
    ngx_http_faas_endpoint_t   *ep;

    rs = item->resync;

    if (!ngx_http_faas_redis_reply_ok(reply)) {
        if (reply) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "faas: cannot read the endpoints of %V/%V: %s",
                          &item->function->name, &item->revision->name,
                          ngx_http_faas_redis_reply_error(reply));
        }

        goto done;
    }

    n = ngx_http_faas_redis_reply_count(reply);

    records = ngx_array_create(rs->pool, n / 2 + 1,
                               sizeof(ngx_http_faas_endpoint_t));
    if (records == NULL) {
        goto done;
    }

    for (i = 0; i + 1 < n; i += 2) {
        if (ngx_http_faas_redis_reply_string(reply, i, &id) != NGX_OK
            || ngx_http_faas_redis_reply_string(reply, i + 1, &addr) != NGX_OK)
        {
            continue;
        }

        ep = ngx_array_push(records);
        if (ep == NULL) {
            goto done;
        }

        if (!ngx_http_faas_valid_replica_id(id.data, id.len)) {
            error = "invalid replica id";
            goto bad;
        }

        if (ngx_http_faas_parse_address(addr.data, addr.len, &ep->sockaddr,
                                        &ep->socklen, &error)
            != 0)
        {
            goto bad;
        }

        ep->id = id;
        ep->addr = addr;

        continue;

    bad:

        records->nelts--;

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "faas: skipped endpoint \"%*s\" => \"%*s\" of %V/%V "
                      "in Redis: %s", ngx_min(id.len, 128), id.data,
                      ngx_min(addr.len, 128), addr.data,
                      &item->function->name, &item->revision->name, error);
    }

    ngx_http_faas_replicas_resync(ngx_http_faas_sync_conf->shm_zone,
                                  item->revision, records, rs->requested_at,
                                  rs->controller_alive);

    ngx_http_faas_queue_wake(item->revision);

done:

    if (--rs->outstanding == 0) {
        ngx_http_faas_resync_done(rs);
    }
}


/*
 * The controller's status hash of a revision: "state", "reason",
 * "desired" and "desired_reason" are kept for the status page.  Values are checked and cut
 * (ngx_http_faas_revision_report_t), never trusted.
 */

static void
ngx_http_faas_resync_status(void *reply, void *data)
{
    ngx_http_faas_resync_item_t *item = data;

    ngx_str_t                         field, value;
    ngx_int_t                         n;
    ngx_uint_t                        i, count;
    ngx_http_faas_resync_t           *rs;
    ngx_http_faas_revision_report_t   report;

    rs = item->resync;
    count = ngx_http_faas_redis_reply_count(reply);

    ngx_memzero(&report, sizeof(ngx_http_faas_revision_report_t));
    report.desired = -1;

    for (i = 0; i + 1 < count; i += 2) {
        if (ngx_http_faas_redis_reply_string(reply, i, &field) != NGX_OK
            || ngx_http_faas_redis_reply_string(reply, i + 1, &value)
               != NGX_OK)
        {
            continue;
        }

        if (field.len == 5 && ngx_strncmp(field.data, "state", 5) == 0) {
            report.state_len = ngx_min(value.len, sizeof(report.state));
            ngx_memcpy(report.state, value.data, report.state_len);

        } else if (field.len == 6 && ngx_strncmp(field.data, "reason", 6) == 0) {
            report.reason_len = ngx_min(value.len, sizeof(report.reason));
            ngx_memcpy(report.reason, value.data, report.reason_len);

        } else if (field.len == 14
                   && ngx_strncmp(field.data, "desired_reason", 14) == 0)
        {
            report.why_len = ngx_min(value.len, sizeof(report.why));
            ngx_memcpy(report.why, value.data, report.why_len);

        } else if (field.len == 7 && ngx_strncmp(field.data, "desired", 7) == 0) {
            n = ngx_atoi(value.data, value.len);
            report.desired = (n == NGX_ERROR) ? -1 : n;
        }
    }

    if (count) {
        ngx_http_faas_revision_report(ngx_http_faas_sync_conf->shm_zone,
                                      item->revision, &report);
    }

    if (--rs->outstanding == 0) {
        ngx_http_faas_resync_done(rs);
    }
}


/* answered before the hashes: replies come back in order */

static void
ngx_http_faas_resync_heartbeat(void *reply, void *data)
{
    ngx_http_faas_resync_t *rs = data;

    rs->controller_alive = ngx_http_faas_redis_reply_integer(reply) == 1;

    if (--rs->outstanding == 0) {
        ngx_http_faas_resync_done(rs);
    }
}


static void
ngx_http_faas_resync_done(ngx_http_faas_resync_t *rs)
{
    ngx_destroy_pool(rs->pool);

    ngx_http_faas_resync_running = NULL;

    if (ngx_http_faas_resync_again && ngx_http_faas_sync_conf) {
        ngx_http_faas_resync_start();
    }
}
