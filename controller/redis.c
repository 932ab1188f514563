/*
 * Copyright (C) nginx-faas developers
 *
 * The Redis link (see redis.h), on hiredis's blocking API: the command
 * connection's calls are bounded by a timeout, and the subscriber is read
 * only when poll() says it has data, so neither stalls the loop for long.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "backoff.h"
#include "log.h"
#include "redis.h"


#define FAAS_REDIS_CONNECT_TIMEOUT_MS  1000
#define FAAS_REDIS_COMMAND_TIMEOUT_MS  2000
#define FAAS_REDIS_RETRY_BASE_MS       100
#define FAAS_REDIS_RETRY_CAP_MS        5000


struct faas_redis_s {
    const faas_config_t  *cfg;
    redisContext         *cmd;
    redisContext         *sub;
    char                **channels;
    size_t                nchannels;
    int                   failures;        /* reconnections failed in a row */
    long long             retry_at_ms;
    long long             lost_at_ms;
};


static void
faas_redis_drop(faas_redis_t *r, const char *why)
{
    if (r->cmd == NULL) {
        return;
    }

    faas_log_error("redis %s: connection lost (%s); replicas keep running, "
                   "reconnecting", r->cfg->redis_addr, why);

    redisFree(r->cmd);
    redisFree(r->sub);
    r->cmd = NULL;
    r->sub = NULL;
    r->failures = 0;
    r->retry_at_ms = 0;
    r->lost_at_ms = -1;
}


faas_redis_t *
faas_redis_new(const faas_config_t *cfg, const char *const *channels,
    size_t nchannels)
{
    size_t         i;
    faas_redis_t  *r;

    r = calloc(1, sizeof(faas_redis_t));

    if (r == NULL) {
        return NULL;
    }

    r->cfg = cfg;
    r->channels = calloc(nchannels, sizeof(char *));

    if (r->channels == NULL) {
        free(r);
        return NULL;
    }

    for (i = 0; i < nchannels; i++) {
        r->channels[i] = strdup(channels[i]);

        if (r->channels[i] == NULL) {
            r->nchannels = i;
            faas_redis_free(r);
            return NULL;
        }
    }

    r->nchannels = nchannels;

    return r;
}


void
faas_redis_free(faas_redis_t *r)
{
    size_t  i;

    if (r->cmd) {
        redisFree(r->cmd);
        redisFree(r->sub);
    }

    for (i = 0; i < r->nchannels; i++) {
        free(r->channels[i]);
    }

    free(r->channels);
    free(r);
}


static struct timeval
faas_redis_tv(int ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    return tv;
}


/* a reply that is an error, or none: its text in err, and -1 */

static int
faas_redis_check(redisContext *c, redisReply *reply, const char *what,
    char *err, size_t errlen)
{
    if (reply == NULL) {
        snprintf(err, errlen, "%s: %s", what,
                 c->errstr[0] ? c->errstr : "no answer");
        return -1;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s: %s", what, reply->str);
        freeReplyObject(reply);
        return -1;
    }

    freeReplyObject(reply);

    return 0;
}


static redisContext *
faas_redis_open(faas_redis_t *r, int select_db, char *err, size_t errlen)
{
    const faas_config_t  *cfg;
    redisContext         *c;
    redisReply           *reply;

    cfg = r->cfg;

    if (cfg->redis_unix[0]) {
        c = redisConnectUnixWithTimeout(cfg->redis_unix,
                faas_redis_tv(FAAS_REDIS_CONNECT_TIMEOUT_MS));

    } else {
        c = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port,
                faas_redis_tv(FAAS_REDIS_CONNECT_TIMEOUT_MS));
    }

    if (c == NULL || c->err) {
        snprintf(err, errlen, "%s", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }

    if (redisSetTimeout(c, faas_redis_tv(FAAS_REDIS_COMMAND_TIMEOUT_MS))
        != REDIS_OK)
    {
        snprintf(err, errlen, "cannot set a timeout: %s", c->errstr);
        redisFree(c);
        return NULL;
    }

    (void) redisEnableKeepAlive(c);

    if (cfg->redis_password) {
        if (cfg->redis_user) {
            reply = redisCommand(c, "AUTH %s %s", cfg->redis_user,
                                 cfg->redis_password);
        } else {
            reply = redisCommand(c, "AUTH %s", cfg->redis_password);
        }

        if (faas_redis_check(c, reply, "AUTH", err, errlen) != 0) {
            redisFree(c);
            return NULL;
        }
    }

    if (select_db && cfg->redis_db) {
        reply = redisCommand(c, "SELECT %d", cfg->redis_db);

        if (faas_redis_check(c, reply, "SELECT", err, errlen) != 0) {
            redisFree(c);
            return NULL;
        }
    }

    return c;
}


int
faas_redis_connect(faas_redis_t *r, char *err, size_t errlen)
{
    size_t         i;
    redisReply    *reply;
    redisContext  *cmd, *sub;

    cmd = faas_redis_open(r, 1, err, errlen);

    if (cmd == NULL) {
        return -1;
    }

    sub = faas_redis_open(r, 0, err, errlen);

    if (sub == NULL) {
        redisFree(cmd);
        return -1;
    }

    for (i = 0; i < r->nchannels; i++) {
        reply = redisCommand(sub, "SUBSCRIBE %s", r->channels[i]);

        if (faas_redis_check(sub, reply, "SUBSCRIBE", err, errlen) != 0) {
            redisFree(cmd);
            redisFree(sub);
            return -1;
        }
    }

    r->cmd = cmd;
    r->sub = sub;

    return 0;
}


int
faas_redis_connected(faas_redis_t *r)
{
    return r->cmd != NULL;
}


int
faas_redis_maintain(faas_redis_t *r, long long now_ms)
{
    char  err[256];

    if (r->cmd) {
        return 0;
    }

    if (r->lost_at_ms < 0) {
        r->lost_at_ms = now_ms;
    }

    if (now_ms < r->retry_at_ms) {
        return 0;
    }

    if (faas_redis_connect(r, err, sizeof(err)) != 0) {
        r->failures++;
        r->retry_at_ms = now_ms
                         + faas_backoff_ms(r->failures,
                                           FAAS_REDIS_RETRY_BASE_MS,
                                           FAAS_REDIS_RETRY_CAP_MS);
        faas_log_debug("redis %s: reconnect failed: %s", r->cfg->redis_addr,
                       err);
        return 0;
    }

    faas_log_info("redis %s: connection back after %lld ms",
                  r->cfg->redis_addr, now_ms - r->lost_at_ms);

    return 1;
}


int
faas_redis_fd(faas_redis_t *r)
{
    return r->sub ? r->sub->fd : -1;
}


void
faas_redis_read(faas_redis_t *r, faas_redis_message_pt handler, void *data)
{
    void        *reply;
    redisReply  *m;

    if (r->sub == NULL) {
        return;
    }

    if (redisBufferRead(r->sub) != REDIS_OK) {
        faas_redis_drop(r, r->sub->errstr[0] ? r->sub->errstr : "closed");
        return;
    }

    for ( ;; ) {
        reply = NULL;

        if (redisGetReplyFromReader(r->sub, &reply) != REDIS_OK) {
            faas_redis_drop(r, r->sub->errstr);
            return;
        }

        if (reply == NULL) {
            return;
        }

        m = reply;

        if (m->type == REDIS_REPLY_ARRAY && m->elements == 3
            && m->element[0]->type == REDIS_REPLY_STRING
            && strcmp(m->element[0]->str, "message") == 0
            && m->element[1]->type == REDIS_REPLY_STRING
            && m->element[2]->type == REDIS_REPLY_STRING)
        {
            handler(m->element[1]->str, m->element[2]->str,
                    m->element[2]->len, data);
        }

        freeReplyObject(reply);

        if (r->sub == NULL) {
            /* the handler's commands found the link broken: dropped */
            return;
        }
    }
}


redisReply *
faas_redis_command(faas_redis_t *r, const char *fmt, ...)
{
    va_list      args;
    redisReply  *reply;

    if (r->cmd == NULL) {
        return NULL;
    }

    va_start(args, fmt);
    reply = redisvCommand(r->cmd, fmt, args);
    va_end(args);

    if (reply == NULL) {
        faas_redis_drop(r, r->cmd->errstr);
    }

    return reply;
}


int
faas_redis_append(faas_redis_t *r, const char *fmt, ...)
{
    int      rc;
    va_list  args;

    if (r->cmd == NULL) {
        return -1;
    }

    va_start(args, fmt);
    rc = redisvAppendCommand(r->cmd, fmt, args);
    va_end(args);

    return rc == REDIS_OK ? 0 : -1;
}


redisReply *
faas_redis_reply(faas_redis_t *r)
{
    void  *reply;

    if (r->cmd == NULL) {
        return NULL;
    }

    reply = NULL;

    if (redisGetReply(r->cmd, &reply) != REDIS_OK || reply == NULL) {
        faas_redis_drop(r, r->cmd->errstr);
        return NULL;
    }

    return reply;
}
