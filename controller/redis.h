/*
 * Copyright (C) nginx-faas developers
 *
 * The controller's link to Redis: a command connection (blocking calls
 * bounded by timeouts) and a subscriber whose socket the main loop polls.
 * Both are made together and dropped together; while they are down,
 * faas_redis_maintain() retries with a capped backoff, and the loss and
 * the return are logged once each.  The only file that connects; used by
 * the main thread only.
 */

#ifndef FAAS_REDIS_H
#define FAAS_REDIS_H


#include <stddef.h>

#include <hiredis/hiredis.h>

#include "config.h"


typedef struct faas_redis_s  faas_redis_t;

typedef void (*faas_redis_message_pt)(const char *channel,
    const char *message, size_t len, void *data);


/* channels: names to subscribe to, copied */
faas_redis_t *faas_redis_new(const faas_config_t *cfg,
    const char *const *channels, size_t nchannels);

void faas_redis_free(faas_redis_t *r);

/*
 * Connects both links (AUTH, SELECT, SUBSCRIBE).  Returns 0, or -1 with
 * one line in err (used at start, where failing is fatal).
 */
int faas_redis_connect(faas_redis_t *r, char *err, size_t errlen);

int faas_redis_connected(faas_redis_t *r);

/*
 * While the links are down, tries again when the backoff allows.  Returns
 * 1 when they have just come back (the caller then re-reads and rewrites
 * everything: Redis may have lost its data), else 0.
 */
int faas_redis_maintain(faas_redis_t *r, long long now_ms);

/* The subscriber's socket, -1 while down. */
int faas_redis_fd(faas_redis_t *r);

/* Reads what the subscriber has received and calls handler per message. */
void faas_redis_read(faas_redis_t *r, faas_redis_message_pt handler,
    void *data);

/*
 * Runs one command (hiredis format: every %s and %b is one argument, never
 * spliced into the command text).  Returns the reply, which the caller
 * frees with freeReplyObject(); an error reply is returned as such.
 * Returns NULL when the link is down or breaks (it is then dropped).
 */
redisReply *faas_redis_command(faas_redis_t *r, const char *fmt, ...);

/* The same, pipelined: append commands, then take their replies in order. */
int faas_redis_append(faas_redis_t *r, const char *fmt, ...);
redisReply *faas_redis_reply(faas_redis_t *r);


#endif /* FAAS_REDIS_H */
