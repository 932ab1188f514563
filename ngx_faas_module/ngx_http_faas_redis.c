/*
 * Copyright (C) nginx-faas developers
 *
 * Redis on nginx's event loop: a hiredis adapter (hiredis ships none for
 * nginx) and the two links every worker keeps, one for commands and one
 * subscribed to the channels the module listens to.  This is the only file
 * that speaks hiredis; the rest of the module sees replies through the
 * accessors at the bottom.
 *
 * A link that breaks or cannot connect is retried with a capped, jittered
 * backoff, and logged once per transition, not once per try.  Nothing here
 * blocks: names were resolved when the configuration was read.
 */


#include "ngx_http_faas_module.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


#define NGX_HTTP_FAAS_REDIS_BACKOFF_MIN_MS   100
#define NGX_HTTP_FAAS_REDIS_BACKOFF_MAX_MS   2000
#define NGX_HTTP_FAAS_REDIS_CONNECT_MS       3000
#define NGX_HTTP_FAAS_REDIS_REPLY_MS         5000
#define NGX_HTTP_FAAS_REDIS_WATCHDOG_MS      1000
#define NGX_HTTP_FAAS_REDIS_PENDING_MAX      100000


typedef struct {
    redisAsyncContext               *ac;
    ngx_connection_t                *conn;
    ngx_event_t                      retry;
    ngx_msec_t                       backoff_ms;
    ngx_msec_t                       connect_started;
    ngx_uint_t                       setup_pending;  /* AUTH, SELECT */
    ngx_uint_t                       pending;        /* commands in flight */
    ngx_msec_t                       progress;       /* last reply, or the
                                                        first command sent
                                                        after none pending */
    ngx_uint_t                       log_level;      /* of transitions */
    const char                      *role;
    unsigned                         subscriber:1;
    unsigned                         ready:1;
    unsigned                         down:1;         /* failure logged */
} ngx_http_faas_redis_link_t;


typedef struct {
    ngx_http_faas_redis_reply_pt     handler;
    void                            *data;
} ngx_http_faas_redis_request_t;


static void ngx_http_faas_redis_link_init(ngx_http_faas_redis_link_t *link,
    ngx_cycle_t *cycle, const char *role, ngx_uint_t subscriber,
    ngx_uint_t log_level);
static void ngx_http_faas_redis_connect(ngx_http_faas_redis_link_t *link);
static ngx_int_t ngx_http_faas_redis_attach(ngx_http_faas_redis_link_t *link,
    redisAsyncContext *ac);
static void ngx_http_faas_redis_send_setup(ngx_http_faas_redis_link_t *link);
static void ngx_http_faas_redis_setup_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_faas_redis_subscribe_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_faas_redis_command_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_faas_redis_link_ready(ngx_http_faas_redis_link_t *link);
static void ngx_http_faas_redis_link_failed(ngx_http_faas_redis_link_t *link,
    const char *reason);
static void ngx_http_faas_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_faas_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_faas_redis_retry_handler(ngx_event_t *ev);
static void ngx_http_faas_redis_watchdog_handler(ngx_event_t *ev);
static void ngx_http_faas_redis_drop(ngx_http_faas_redis_link_t *link,
    const char *reason);

static void ngx_http_faas_redis_read_handler(ngx_event_t *ev);
static void ngx_http_faas_redis_write_handler(ngx_event_t *ev);
static void ngx_http_faas_redis_add_read(void *privdata);
static void ngx_http_faas_redis_del_read(void *privdata);
static void ngx_http_faas_redis_add_write(void *privdata);
static void ngx_http_faas_redis_del_write(void *privdata);
static void ngx_http_faas_redis_cleanup(void *privdata);


static ngx_http_faas_redis_link_t       ngx_http_faas_redis_cmd;
static ngx_http_faas_redis_link_t       ngx_http_faas_redis_sub;
static ngx_http_faas_redis_conf_t      *ngx_http_faas_redis_conf;
static ngx_http_faas_redis_handlers_t  *ngx_http_faas_redis_handlers;
static ngx_event_t                      ngx_http_faas_redis_watchdog;
static ngx_uint_t                       ngx_http_faas_redis_stopping;


/*
 * Starts both links of this worker.  The handlers are called on the event
 * loop when commands can be sent again (connected), when messages flow
 * again (subscribed: anything published meanwhile was missed), and for
 * every message.
 */

ngx_int_t
ngx_http_faas_redis_start(ngx_cycle_t *cycle, ngx_http_faas_redis_conf_t *rcf,
    ngx_http_faas_redis_handlers_t *h)
{
    ngx_http_faas_redis_conf = rcf;
    ngx_http_faas_redis_handlers = h;
    ngx_http_faas_redis_stopping = 0;

    ngx_http_faas_redis_link_init(&ngx_http_faas_redis_cmd, cycle,
                                  "commands", 0, NGX_LOG_WARN);
    ngx_http_faas_redis_link_init(&ngx_http_faas_redis_sub, cycle,
                                  "subscriber", 1, NGX_LOG_INFO);

    ngx_http_faas_redis_connect(&ngx_http_faas_redis_cmd);
    ngx_http_faas_redis_connect(&ngx_http_faas_redis_sub);

    ngx_http_faas_redis_watchdog.handler = ngx_http_faas_redis_watchdog_handler;
    ngx_http_faas_redis_watchdog.log = cycle->log;
    ngx_http_faas_redis_watchdog.cancelable = 1;

    ngx_add_timer(&ngx_http_faas_redis_watchdog,
                  NGX_HTTP_FAAS_REDIS_WATCHDOG_MS);

    return NGX_OK;
}


static void
ngx_http_faas_redis_link_init(ngx_http_faas_redis_link_t *link,
    ngx_cycle_t *cycle, const char *role, ngx_uint_t subscriber,
    ngx_uint_t log_level)
{
    ngx_memzero(link, sizeof(ngx_http_faas_redis_link_t));

    link->role = role;
    link->subscriber = subscriber;
    link->log_level = log_level;
    link->backoff_ms = NGX_HTTP_FAAS_REDIS_BACKOFF_MIN_MS;

    link->retry.handler = ngx_http_faas_redis_retry_handler;
    link->retry.data = link;
    link->retry.log = cycle->log;
    link->retry.cancelable = 1;
}


void
ngx_http_faas_redis_stop(void)
{
    ngx_http_faas_redis_stopping = 1;

    if (ngx_http_faas_redis_watchdog.timer_set) {
        ngx_del_timer(&ngx_http_faas_redis_watchdog);
    }

    ngx_http_faas_redis_drop(&ngx_http_faas_redis_cmd, NULL);
    ngx_http_faas_redis_drop(&ngx_http_faas_redis_sub, NULL);
}


ngx_uint_t
ngx_http_faas_redis_connected(void)
{
    return ngx_http_faas_redis_cmd.ready;
}


/*
 * Sends a command on the command link.  Arguments go as argv, never spliced
 * into a command string.  handler (may be NULL) gets the reply, or NULL if
 * the link broke first.  Returns NGX_OK, or NGX_DECLINED when Redis is not
 * reachable now (nothing was sent and the handler will not be called).
 */

ngx_int_t
ngx_http_faas_redis_command(ngx_http_faas_redis_reply_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    ngx_http_faas_redis_link_t     *link;
    ngx_http_faas_redis_request_t  *req;

    link = &ngx_http_faas_redis_cmd;

    if (!link->ready || link->pending >= NGX_HTTP_FAAS_REDIS_PENDING_MAX) {
        return NGX_DECLINED;
    }

    req = ngx_alloc(sizeof(ngx_http_faas_redis_request_t), ngx_cycle->log);
    if (req == NULL) {
        return NGX_DECLINED;
    }

    req->handler = handler;
    req->data = data;

    if (redisAsyncCommandArgv(link->ac, ngx_http_faas_redis_command_reply,
                              req, argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_free(req);
        return NGX_DECLINED;
    }

    if (link->pending++ == 0) {
        link->progress = ngx_current_msec;
    }

    return NGX_OK;
}


/*
 * Writes what the command link has queued now, instead of when the loop
 * next sees the socket writable: the wake signal goes out in the same turn
 * as the request that caused it.
 */

void
ngx_http_faas_redis_flush(void)
{
    if (ngx_http_faas_redis_cmd.ready) {
        redisAsyncHandleWrite(ngx_http_faas_redis_cmd.ac);
    }
}


static void
ngx_http_faas_redis_command_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_faas_redis_request_t *req = privdata;

    ngx_http_faas_redis_link_t  *link;

    link = &ngx_http_faas_redis_cmd;

    if (link->pending) {
        link->pending--;
    }

    link->progress = ngx_current_msec;

    if (req->handler) {
        req->handler(r, req->data);
    }

    ngx_free(req);
}


static void
ngx_http_faas_redis_connect(ngx_http_faas_redis_link_t *link)
{
    redisAsyncContext           *ac;
    ngx_http_faas_redis_conf_t  *rcf;

    rcf = ngx_http_faas_redis_conf;

    if (rcf->unix_path.len) {
        ac = redisAsyncConnectUnix((char *) rcf->unix_path.data);

    } else {
        ac = redisAsyncConnect((char *) rcf->host.data, rcf->port);
    }

    if (ac == NULL) {
        ngx_http_faas_redis_link_failed(link, "out of memory");
        return;
    }

    if (ac->err) {
        ngx_http_faas_redis_link_failed(link, ac->errstr);
        redisAsyncFree(ac);
        return;
    }

    if (ngx_http_faas_redis_attach(link, ac) != NGX_OK) {
        ngx_http_faas_redis_link_failed(link, "no free connection");
        redisAsyncFree(ac);
        return;
    }

    link->connect_started = ngx_current_msec;
    link->pending = 0;

    if (!rcf->unix_path.len) {
        (void) redisEnableKeepAlive(&ac->c);
    }

    ngx_http_faas_redis_send_setup(link);
}


/*
 * The adapter: the hiredis socket becomes an nginx connection whose events
 * call hiredis's handlers.  Events are level-triggered because hiredis
 * reads a bounded chunk per call and expects to be called again.
 */

static ngx_int_t
ngx_http_faas_redis_attach(ngx_http_faas_redis_link_t *link,
    redisAsyncContext *ac)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, ngx_cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = link;
    c->read->handler = ngx_http_faas_redis_read_handler;
    c->write->handler = ngx_http_faas_redis_write_handler;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;

    link->ac = ac;
    link->conn = c;

    ac->data = link;
    ac->ev.data = link;
    ac->ev.addRead = ngx_http_faas_redis_add_read;
    ac->ev.delRead = ngx_http_faas_redis_del_read;
    ac->ev.addWrite = ngx_http_faas_redis_add_write;
    ac->ev.delWrite = ngx_http_faas_redis_del_write;
    ac->ev.cleanup = ngx_http_faas_redis_cleanup;

    (void) redisAsyncSetConnectCallback(ac, ngx_http_faas_redis_on_connect);
    (void) redisAsyncSetDisconnectCallback(ac,
                                           ngx_http_faas_redis_on_disconnect);

    /* the connect completes when the socket turns writable */

    ngx_http_faas_redis_add_read(link);
    ngx_http_faas_redis_add_write(link);

    return NGX_OK;
}


/*
 * Queues what a new link sends before anything else: AUTH, SELECT, and
 * SUBSCRIBE on the subscriber.  hiredis holds them until the connect
 * completes.
 */

static void
ngx_http_faas_redis_send_setup(ngx_http_faas_redis_link_t *link)
{
    int                          argc;
    size_t                       argvlen[3];
    ngx_uint_t                   i;
    const char                  *argv[3];
    u_char                       db[NGX_INT_T_LEN];
    ngx_str_t                   *ch;
    ngx_http_faas_redis_conf_t  *rcf;

    rcf = ngx_http_faas_redis_conf;
    link->setup_pending = 0;

    if (rcf->password.len) {
        argc = 0;
        argv[argc] = "AUTH";
        argvlen[argc++] = 4;

        if (rcf->user.len) {
            argv[argc] = (const char *) rcf->user.data;
            argvlen[argc++] = rcf->user.len;
        }

        argv[argc] = (const char *) rcf->password.data;
        argvlen[argc++] = rcf->password.len;

        if (redisAsyncCommandArgv(link->ac, ngx_http_faas_redis_setup_reply,
                                  link, argc, argv, argvlen)
            == REDIS_OK)
        {
            link->setup_pending++;
        }
    }

    if (rcf->db && !link->subscriber) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (const char *) db;
        argvlen[1] = ngx_sprintf(db, "%i", rcf->db) - db;

        if (redisAsyncCommandArgv(link->ac, ngx_http_faas_redis_setup_reply,
                                  link, 2, argv, argvlen)
            == REDIS_OK)
        {
            link->setup_pending++;
        }
    }

    if (link->subscriber) {
        ch = ngx_http_faas_redis_handlers->channels;

        for (i = 0; i < ngx_http_faas_redis_handlers->nchannels; i++) {
            argv[0] = "SUBSCRIBE";
            argvlen[0] = 9;
            argv[1] = (const char *) ch[i].data;
            argvlen[1] = ch[i].len;

            (void) redisAsyncCommandArgv(link->ac,
                                         ngx_http_faas_redis_subscribe_reply,
                                         link, 2, argv, argvlen);
        }
    }
}


static void
ngx_http_faas_redis_setup_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_faas_redis_link_t *link = privdata;

    redisReply  *reply = r;

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* a wrong password is an operator's mistake worth an error line;
         * the link is retried in case the ACL gets fixed */

        if (!link->down) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "faas_redis \"%V\" refused the %s link: %s",
                          &ngx_http_faas_redis_conf->text, link->role,
                          reply->str);
            link->down = 1;
        }

        redisAsyncDisconnect(ac);
        return;
    }

    if (--link->setup_pending == 0 && !link->subscriber) {
        ngx_http_faas_redis_link_ready(link);
    }
}


static void
ngx_http_faas_redis_subscribe_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_faas_redis_link_t *link = privdata;

    ngx_str_t    channel, payload;
    redisReply  *reply = r;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (reply->element[2]->type == REDIS_REPLY_STRING
        && reply->element[0]->len == 7
        && ngx_strncmp(reply->element[0]->str, "message", 7) == 0)
    {
        channel.data = (u_char *) reply->element[1]->str;
        channel.len = reply->element[1]->len;
        payload.data = (u_char *) reply->element[2]->str;
        payload.len = reply->element[2]->len;

        ngx_http_faas_redis_handlers->message(&channel, &payload);
        return;
    }

    if (reply->element[2]->type == REDIS_REPLY_INTEGER
        && reply->element[0]->len == 9
        && ngx_strncmp(reply->element[0]->str, "subscribe", 9) == 0
        && (ngx_uint_t) reply->element[2]->integer
           == ngx_http_faas_redis_handlers->nchannels
        && !link->ready)
    {
        ngx_http_faas_redis_link_ready(link);
    }
}


static void
ngx_http_faas_redis_link_ready(ngx_http_faas_redis_link_t *link)
{
    ngx_uint_t  level;

    link->ready = 1;
    link->backoff_ms = NGX_HTTP_FAAS_REDIS_BACKOFF_MIN_MS;

    if (link->down) {
        level = (link->log_level == NGX_LOG_WARN) ? NGX_LOG_NOTICE
                                                  : link->log_level;

        ngx_log_error(level, ngx_cycle->log, 0,
                      "faas_redis \"%V\": %s link is back",
                      &ngx_http_faas_redis_conf->text, link->role);
        link->down = 0;

    } else {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "faas_redis \"%V\": %s link connected",
                      &ngx_http_faas_redis_conf->text, link->role);
    }

    if (link->subscriber) {
        ngx_http_faas_redis_handlers->subscribed();

    } else {
        ngx_http_faas_redis_handlers->connected();
    }
}


/* notes the failure (logged on the first one) and schedules a retry */

static void
ngx_http_faas_redis_link_failed(ngx_http_faas_redis_link_t *link,
    const char *reason)
{
    ngx_msec_t  delay;

    link->ready = 0;

    if (!link->down) {
        ngx_log_error(link->log_level, ngx_cycle->log, 0,
                      "faas_redis \"%V\": %s link lost: %s; retrying, "
                      "warm traffic goes on",
                      &ngx_http_faas_redis_conf->text, link->role,
                      reason ? reason : "closed");
        link->down = 1;
    }

    if (ngx_http_faas_redis_stopping || ngx_exiting || ngx_terminate) {
        return;
    }

    /* jitter keeps the workers of every nginx from reconnecting in step */

    delay = link->backoff_ms / 2 + ngx_random() % (link->backoff_ms / 2 + 1);

    link->backoff_ms = ngx_min(link->backoff_ms * 2,
                               NGX_HTTP_FAAS_REDIS_BACKOFF_MAX_MS);

    if (!link->retry.timer_set) {
        ngx_add_timer(&link->retry, delay);
    }
}


static void
ngx_http_faas_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_faas_redis_link_t *link = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context after this returns */
        ngx_http_faas_redis_link_failed(link, ac->errstr);
        return;
    }

    if (link->setup_pending == 0 && !link->subscriber) {
        ngx_http_faas_redis_link_ready(link);
    }
}


static void
ngx_http_faas_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_faas_redis_link_t *link = ac->data;

    ngx_http_faas_redis_link_failed(link,
                                    status == REDIS_OK ? NULL : ac->errstr);
}


static void
ngx_http_faas_redis_retry_handler(ngx_event_t *ev)
{
    ngx_http_faas_redis_link_t *link = ev->data;

    if (link->ac == NULL && !ngx_http_faas_redis_stopping && !ngx_exiting) {
        ngx_http_faas_redis_connect(link);
    }
}


/*
 * hiredis has no timeouts of its own: a connect that hangs, or a Redis that
 * stops answering (but keeps the socket open), is caught here and the
 * links are dropped and retried.
 */

static void
ngx_http_faas_redis_watchdog_handler(ngx_event_t *ev)
{
    ngx_http_faas_redis_link_t  *cmd, *sub;

    cmd = &ngx_http_faas_redis_cmd;
    sub = &ngx_http_faas_redis_sub;

    if (cmd->ac && !(cmd->ac->c.flags & REDIS_CONNECTED)
        && ngx_current_msec - cmd->connect_started
           > NGX_HTTP_FAAS_REDIS_CONNECT_MS)
    {
        ngx_http_faas_redis_drop(cmd, "connect timed out");
    }

    if (sub->ac && !(sub->ac->c.flags & REDIS_CONNECTED)
        && ngx_current_msec - sub->connect_started
           > NGX_HTTP_FAAS_REDIS_CONNECT_MS)
    {
        ngx_http_faas_redis_drop(sub, "connect timed out");
    }

    if (cmd->ready && cmd->pending
        && ngx_current_msec - cmd->progress > NGX_HTTP_FAAS_REDIS_REPLY_MS)
    {
        /* the subscriber shares the fate of a server that stopped
         * answering; it cannot be probed itself while subscribed */

        ngx_http_faas_redis_drop(cmd, "no reply in time");
        ngx_http_faas_redis_drop(sub, "no reply in time");
    }

    if (cmd->ready && cmd->pending == 0) {
        /* a cheap probe, so that a silent server is noticed even when the
         * module has nothing to say */
        (void) ngx_http_faas_redis_command(NULL, NULL, 1,
                                           (const char *[]) { "PING" },
                                           (const size_t[]) { 4 });
    }

    if (!ngx_http_faas_redis_stopping && !ngx_exiting) {
        ngx_add_timer(ev, NGX_HTTP_FAAS_REDIS_WATCHDOG_MS);
    }
}


/*
 * Frees a link's context from outside hiredis's callbacks: pending command
 * handlers get a NULL reply, then the link is retried (unless stopping, in
 * which case reason is NULL and nothing is logged).
 */

static void
ngx_http_faas_redis_drop(ngx_http_faas_redis_link_t *link, const char *reason)
{
    redisAsyncContext  *ac;

    if (link->retry.timer_set) {
        ngx_del_timer(&link->retry);
    }

    ac = link->ac;

    if (ac == NULL) {
        return;
    }

    /* freeing a connected context calls on_disconnect, which would log and
     * schedule the retry: keep it quiet and do it here instead */

    ac->onDisconnect = NULL;
    redisAsyncFree(ac);

    link->ready = 0;

    if (reason) {
        ngx_http_faas_redis_link_failed(link, reason);
    }
}


static void
ngx_http_faas_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t            *c = ev->data;
    ngx_http_faas_redis_link_t  *link = c->data;

    /* the handler may free the context and this connection */
    redisAsyncHandleRead(link->ac);
}


static void
ngx_http_faas_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t            *c = ev->data;
    ngx_http_faas_redis_link_t  *link = c->data;

    redisAsyncHandleWrite(link->ac);
}


static void
ngx_http_faas_redis_add_read(void *privdata)
{
    ngx_http_faas_redis_link_t *link = privdata;

    if (!link->conn->read->active) {
        (void) ngx_add_event(link->conn->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_faas_redis_del_read(void *privdata)
{
    ngx_http_faas_redis_link_t *link = privdata;

    if (link->conn->read->active) {
        (void) ngx_del_event(link->conn->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_faas_redis_add_write(void *privdata)
{
    ngx_http_faas_redis_link_t *link = privdata;

    if (!link->conn->write->active) {
        (void) ngx_add_event(link->conn->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_faas_redis_del_write(void *privdata)
{
    ngx_http_faas_redis_link_t *link = privdata;

    if (link->conn->write->active) {
        (void) ngx_del_event(link->conn->write, NGX_WRITE_EVENT, 0);
    }
}


/*
 * hiredis calls this just before it closes the socket itself: release the
 * nginx connection without closing the descriptor a second time.
 */

static void
ngx_http_faas_redis_cleanup(void *privdata)
{
    ngx_http_faas_redis_link_t *link = privdata;

    ngx_connection_t  *c;

    c = link->conn;

    if (c == NULL) {
        return;
    }

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    link->conn = NULL;
    link->ac = NULL;
    link->ready = 0;
}


ngx_uint_t
ngx_http_faas_redis_reply_ok(void *r)
{
    redisReply  *reply = r;

    return reply != NULL && reply->type != REDIS_REPLY_ERROR;
}


const char *
ngx_http_faas_redis_reply_error(void *r)
{
    redisReply  *reply = r;

    if (reply == NULL) {
        return "connection lost";
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        return reply->str;
    }

    return NULL;
}


ngx_uint_t
ngx_http_faas_redis_reply_count(void *r)
{
    redisReply  *reply = r;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return 0;
    }

    return reply->elements;
}


/* an integer reply's value, or -1 */

ngx_int_t
ngx_http_faas_redis_reply_integer(void *r)
{
    redisReply  *reply = r;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        return -1;
    }

    return (ngx_int_t) reply->integer;
}


/* element i of an array reply, when it is a string */

ngx_int_t
ngx_http_faas_redis_reply_string(void *r, ngx_uint_t i, ngx_str_t *s)
{
    redisReply  *reply = r, *e;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || i >= reply->elements)
    {
        return NGX_ERROR;
    }

    e = reply->element[i];

    if (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS) {
        return NGX_ERROR;
    }

    s->data = (u_char *) e->str;
    s->len = e->len;

    return NGX_OK;
}
