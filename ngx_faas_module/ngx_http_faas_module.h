/*
 * Copyright (C) nginx-faas developers
 *
 * Types shared by the files of ngx_http_faas_module.  Each file is one
 * concern; this header is the only thing they share.
 */

#ifndef _NGX_HTTP_FAAS_MODULE_H_INCLUDED_
#define _NGX_HTTP_FAAS_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_faas_pure.h"


#define NGX_HTTP_FAAS_SCHEMA_VERSION  1
#define NGX_HTTP_FAAS_SCHEMA_TEXT     "1"

/* how long a replica that was removed stays known as removed: an endpoint
 * resync answer that was requested before the removal must not revive it */
#define NGX_HTTP_FAAS_TOMBSTONE_MS    30000

/* a replica that refused a connection is avoided for this long when others
 * are ready, so that every worker does not hit it while the controller
 * replaces it */
#define NGX_HTTP_FAAS_FAIL_AVOID_MS   2000


/* a replica's address: numeric IPv4 or IPv6, never a unix socket */
typedef union {
    struct sockaddr                 sockaddr;
    struct sockaddr_in              sockaddr_in;
    struct sockaddr_in6             sockaddr_in6;
} ngx_http_faas_sockaddr_t;


typedef enum {
    NGX_HTTP_FAAS_REPLICA_READY = 0,
    NGX_HTTP_FAAS_REPLICA_GONE          /* unpublished; drains, then freed */
} ngx_http_faas_replica_state_e;


/* how the module handled a request, as $faas_status shows it */
typedef enum {
    NGX_HTTP_FAAS_ST_NONE = 0,
    NGX_HTTP_FAAS_ST_PASSED,        /* a replica took it at once */
    NGX_HTTP_FAAS_ST_QUEUED,        /* parked, then passed to a replica */
    NGX_HTTP_FAAS_ST_REJECTED,      /* the function's queue was full: 503 */
    NGX_HTTP_FAAS_ST_TIMEOUT,       /* parked past the queue timeout: 504 */
    NGX_HTTP_FAAS_ST_ABORTED,       /* the client left while parked */
    NGX_HTTP_FAAS_ST_BAD_NAME,      /* 400 */
    NGX_HTTP_FAAS_ST_NOT_FOUND      /* 404 */
} ngx_http_faas_status_e;


/* where a routed request stands */
typedef enum {
    NGX_HTTP_FAAS_ROUTING = 0,
    NGX_HTTP_FAAS_READING_BODY,     /* holds a queue place, reads the body */
    NGX_HTTP_FAAS_PARKED,           /* in its revision's queue */
    NGX_HTTP_FAAS_ADMITTED          /* holds a slot on a replica */
} ngx_http_faas_stage_e;


/*
 * Shared memory.  Nothing here points to worker memory; the slab mutex
 * guards the lists (replicas come and go), atomics carry the counters.
 */

typedef struct {
    ngx_queue_t                     queue;      /* in revision->replicas */
    ngx_atomic_t                    in_flight;
    ngx_atomic_t                    requests;
    ngx_atomic_t                    failures;
    ngx_msec_t                      avoid_until;
    ngx_msec_t                      updated;    /* last change applied */
    ngx_http_faas_replica_state_e   state;
    ngx_uint_t                      seen;       /* resync bookkeeping */
    socklen_t                       socklen;
    ngx_http_faas_sockaddr_t        sockaddr;
    size_t                          id_len;
    size_t                          addr_len;
    u_char                          id[NGX_HTTP_FAAS_REPLICA_ID_MAX];
    u_char                          addr[NGX_HTTP_FAAS_ADDR_TEXT_MAX];
} ngx_http_faas_replica_t;


/* what the controller last said of a revision, for the status page */
typedef struct {
    ngx_int_t                       desired;    /* -1: unknown */
    size_t                          state_len;
    size_t                          reason_len;
    size_t                          why_len;
    u_char                          state[16];
    u_char                          reason[160]; /* of a replica's failure */
    u_char                          why[64];     /* of the desired count */
} ngx_http_faas_revision_report_t;


typedef struct {
    ngx_queue_t                     queue;      /* in function->revisions */
    ngx_queue_t                     replicas;
    ngx_uint_t                      nreplicas;  /* in the list, any state */
    ngx_uint_t                      nready;
    ngx_atomic_t                    requests;
    ngx_atomic_t                    parked;     /* waiting for a slot */
    ngx_atomic_t                    failures;
    ngx_atomic_t                    cold_starts;
    ngx_atomic_t                    rejected;
    ngx_atomic_t                    timeouts;
    ngx_atomic_t                    aborted;
    ngx_atomic_t                    replays;    /* refused, parked again */
    ngx_atomic_t                    waits;      /* parked, then passed */
    ngx_atomic_t                    wait_ms;    /* their total wait */
    ngx_atomic_t                    wake_sent;  /* until a replica is up */
    ngx_atomic_t                    last_request_ms;   /* unix time */
    ngx_http_faas_revision_report_t report;     /* under the mutex */
    size_t                          name_len;
    u_char                          name[NGX_HTTP_FAAS_NAME_MAX];
} ngx_http_faas_shm_revision_t;


typedef struct {
    ngx_str_node_t                  sn;         /* key: the function name */
    ngx_atomic_t                    queued;     /* against queue size= */
    ngx_queue_t                     revisions;
    u_char                          name[NGX_HTTP_FAAS_NAME_MAX];
} ngx_http_faas_shm_function_t;


typedef struct {
    ngx_rbtree_t                    functions;
    ngx_rbtree_node_t               sentinel;
    ngx_atomic_t                    metrics_dropped;
} ngx_http_faas_shm_t;


typedef struct ngx_http_faas_main_conf_s  ngx_http_faas_main_conf_t;

/* the zone's worker-side handle (shm_zone->data) */
typedef struct {
    ngx_http_faas_shm_t            *sh;
    ngx_slab_pool_t                *shpool;
    ngx_http_faas_main_conf_t      *fmcf;
} ngx_http_faas_zone_t;


/*
 * Configuration.
 */

typedef struct ngx_http_faas_function_conf_s  ngx_http_faas_function_conf_t;

typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      weight_pct;  /* UNSET: none given */
    ngx_str_t                       exec;
    ngx_str_t                       image;
    ngx_http_faas_function_conf_t  *function;
    ngx_http_faas_shm_revision_t   *shm;         /* set when the zone loads */
    ngx_queue_t                     parked;      /* this worker's, FIFO */
    ngx_uint_t                      nparked;
} ngx_http_faas_revision_conf_t;


struct ngx_http_faas_function_conf_s {
    ngx_str_t                       name;
    ngx_array_t                     revisions;   /* revision_conf_t */
    unsigned                       *weights_pct; /* one per revision */
    ngx_array_t                     env;         /* ngx_keyval_t */
    ngx_uint_t                      concurrency; /* 0: no limit */
    ngx_uint_t                      scale_min;
    ngx_uint_t                      scale_max;   /* 0: no limit */
    ngx_uint_t                      scale_target;/* 0: from concurrency */
    ngx_msec_t                      scale_idle_ms;
    ngx_uint_t                      queue_size;
    ngx_msec_t                      queue_timeout_ms;
    ngx_str_t                       health;      /* empty: TCP connect */
    ngx_http_faas_shm_function_t   *shm;
};


/* the fixed key and channel names, "<prefix>name", made once */
typedef struct {
    ngx_str_t                       specs;
    ngx_str_t                       schema;
    ngx_str_t                       controller;  /* its heartbeat */
    ngx_str_t                       wake;
    ngx_str_t                       instances;
    ngx_str_t                       ch_specs;
    ngx_str_t                       ch_endpoints;
    ngx_str_t                       ch_wake;
} ngx_http_faas_redis_names_t;


typedef struct {
    ngx_str_t                       host;        /* numeric address */
    in_port_t                       port;
    ngx_str_t                       unix_path;   /* or a unix socket */
    ngx_str_t                       text;        /* as written, for logs */
    ngx_str_t                       user;
    ngx_str_t                       password;
    ngx_int_t                       db;
    ngx_str_t                       prefix;
    ngx_http_faas_redis_names_t     names;
    ngx_msec_t                      resync_ms;
    ngx_msec_t                      metrics_ms;
} ngx_http_faas_redis_conf_t;


struct ngx_http_faas_main_conf_s {
    ngx_shm_zone_t                 *shm_zone;
    ngx_http_faas_redis_conf_t     *redis;
    ngx_array_t                     functions;   /* function_conf_t * */
    ngx_hash_t                      functions_hash;
    ngx_array_t                    *static_passes; /* checked, then unused */
    ngx_uint_t                      pass_used;   /* needs zone and redis */
};


typedef struct {
    ngx_flag_t                      pass;
    ngx_uint_t                      status;      /* faas_status here */
    ngx_http_complex_value_t       *pass_name;   /* NULL: from the path */
    ngx_str_t                       location;    /* prefix the name follows */
    ngx_http_complex_value_t       *sticky;
    ngx_flag_t                      revision_header;
} ngx_http_faas_loc_conf_t;


/*
 * Per request.
 */

/* where a request goes: a copy of a replica's address, in worker memory */
typedef struct {
    ngx_http_faas_sockaddr_t        sockaddr;
    socklen_t                       socklen;
    ngx_str_t                       name;
    u_char                          text[NGX_HTTP_FAAS_ADDR_TEXT_MAX];
} ngx_http_faas_peer_t;


#define NGX_HTTP_FAAS_TRIED_MAX     8

typedef struct ngx_http_faas_ctx_s  ngx_http_faas_ctx_t;

/* a request's place in the queue, allocated only for those that wait */
typedef struct {
    ngx_http_faas_ctx_t            *ctx;
    ngx_queue_t                     queue;       /* in revision->parked */
    ngx_event_t                     event;       /* timeout, then release */
    ngx_msec_t                      started;
} ngx_http_faas_wait_t;


/* kept small: it shares the request's pool with nginx's own needs */
struct ngx_http_faas_ctx_s {
    ngx_http_request_t             *request;
    ngx_http_faas_function_conf_t  *function;
    ngx_http_faas_revision_conf_t  *revision;
    ngx_str_t                       function_name; /* as requested */

    ngx_http_faas_replica_t        *replica;     /* holds one slot on it */
    ngx_http_faas_replica_t       **tried;       /* refused this request */
    ngx_uint_t                      ntried;
    ngx_http_faas_peer_t            peer;        /* last replica used */

    ngx_http_faas_wait_t           *wait;
    ngx_msec_t                      wait_ms;     /* $faas_queue_time */

    ngx_http_faas_stage_e           stage;
    ngx_http_faas_status_e          status;
    ngx_uint_t                      replays;

    unsigned                        queued:1;    /* holds a queue place */
    unsigned                        cold:1;      /* waited for a start */
};


extern ngx_module_t  ngx_http_faas_module;


/* ngx_http_faas_directive.c */
char *ngx_http_faas_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_faas_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_faas_function(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_faas_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_faas_status_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_faas_balancer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_faas_functions_init(ngx_conf_t *cf,
    ngx_http_faas_main_conf_t *fmcf);
ngx_http_faas_function_conf_t *ngx_http_faas_function_find(
    ngx_http_faas_main_conf_t *fmcf, u_char *name, size_t len);
ngx_http_faas_revision_conf_t *ngx_http_faas_revision_find(
    ngx_http_faas_function_conf_t *fn, u_char *name, size_t len);

/* one record of an endpoints hash, already validated */
typedef struct {
    ngx_str_t                       id;
    ngx_str_t                       addr;
    socklen_t                       socklen;
    struct sockaddr_storage         sockaddr;
} ngx_http_faas_endpoint_t;

/* a copy of the zone's counters, for the status page and the metrics */
typedef struct {
    ngx_str_t                       id;
    ngx_str_t                       addr;
    ngx_uint_t                      ready;
    ngx_uint_t                      in_flight;
    ngx_uint_t                      requests;
    ngx_uint_t                      failures;
} ngx_http_faas_replica_snap_t;


typedef struct {
    ngx_http_faas_function_conf_t  *function;
    ngx_http_faas_revision_conf_t  *revision;
    ngx_uint_t                      ready;
    ngx_uint_t                      in_flight;
    ngx_uint_t                      parked;
    ngx_uint_t                      requests;
    ngx_uint_t                      failures;
    ngx_uint_t                      cold_starts;
    ngx_uint_t                      rejected;
    ngx_uint_t                      timeouts;
    ngx_uint_t                      aborted;
    ngx_uint_t                      replays;
    ngx_uint_t                      waits;
    ngx_uint_t                      wait_ms;
    ngx_uint_t                      last_request_ms;
    ngx_http_faas_revision_report_t report;
    ngx_http_faas_replica_snap_t   *replicas;
    ngx_uint_t                      nreplicas;
} ngx_http_faas_revision_snap_t;


typedef struct {
    ngx_http_faas_revision_snap_t  *revisions;
    ngx_uint_t                      nrevisions;
    ngx_uint_t                      nreplicas;
} ngx_http_faas_snapshot_t;


ngx_int_t ngx_http_faas_snapshot(ngx_pool_t *pool,
    ngx_http_faas_main_conf_t *fmcf, ngx_http_faas_snapshot_t *snap);

/* ngx_http_faas_shm.c */
ngx_int_t ngx_http_faas_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data);
ngx_http_faas_replica_t *ngx_http_faas_replica_acquire(ngx_shm_zone_t *zone,
    ngx_http_faas_function_conf_t *fn, ngx_http_faas_revision_conf_t *rev,
    ngx_http_faas_replica_t **exclude, ngx_uint_t nexclude,
    ngx_uint_t strict, ngx_http_faas_peer_t *peer);
void ngx_http_faas_replica_release(ngx_http_faas_replica_t *replica);
void ngx_http_faas_replica_failed(ngx_http_faas_revision_conf_t *rev,
    ngx_http_faas_replica_t *replica);
ngx_int_t ngx_http_faas_replica_event(ngx_shm_zone_t *zone,
    ngx_http_faas_revision_conf_t *rev, ngx_http_faas_endpoint_t *ep,
    ngx_uint_t up);
void ngx_http_faas_replicas_resync(ngx_shm_zone_t *zone,
    ngx_http_faas_revision_conf_t *rev, ngx_array_t *records,
    ngx_msec_t requested_at, ngx_uint_t remove);
void ngx_http_faas_revision_report(ngx_shm_zone_t *zone,
    ngx_http_faas_revision_conf_t *rev, ngx_http_faas_revision_report_t *rp);

/* ngx_http_faas_route.c */
ngx_int_t ngx_http_faas_route_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_faas_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, ngx_str_t *function, ngx_str_t *revision);
ngx_int_t ngx_http_faas_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);

/* ngx_http_faas_upstream.c */
ngx_int_t ngx_http_faas_upstream_init(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
ngx_int_t ngx_http_faas_take_slot(ngx_http_faas_ctx_t *ctx);
void ngx_http_faas_give_back(ngx_http_faas_ctx_t *ctx);

/* ngx_http_faas_queue.c */
ngx_int_t ngx_http_faas_admit(ngx_http_request_t *r, ngx_http_faas_ctx_t *ctx);
ngx_int_t ngx_http_faas_resume(ngx_http_request_t *r,
    ngx_http_faas_ctx_t *ctx);
void ngx_http_faas_queue_wake(ngx_http_faas_revision_conf_t *rev);
void ngx_http_faas_queue_slot_freed(ngx_http_faas_revision_conf_t *rev);
ngx_int_t ngx_http_faas_queue_init_process(ngx_cycle_t *cycle);
void ngx_http_faas_queue_exit_process(void);
ngx_int_t ngx_http_faas_queue_init_module(ngx_cycle_t *cycle);
void ngx_http_faas_queue_resend_wakes(void);
void ngx_http_faas_request_done(ngx_http_faas_ctx_t *ctx);
ngx_int_t ngx_http_faas_replay(ngx_http_faas_ctx_t *ctx);

/* ngx_http_faas_redis.c: the only file that speaks hiredis */
typedef void (*ngx_http_faas_redis_reply_pt)(void *reply, void *data);
typedef void (*ngx_http_faas_redis_event_pt)(void);
typedef void (*ngx_http_faas_redis_message_pt)(ngx_str_t *channel,
    ngx_str_t *payload);

typedef struct {
    ngx_http_faas_redis_event_pt    connected;   /* commands flow again */
    ngx_http_faas_redis_event_pt    subscribed;  /* messages flow again */
    ngx_http_faas_redis_message_pt  message;
    ngx_str_t                      *channels;
    ngx_uint_t                      nchannels;
} ngx_http_faas_redis_handlers_t;

ngx_int_t ngx_http_faas_redis_start(ngx_cycle_t *cycle,
    ngx_http_faas_redis_conf_t *rcf, ngx_http_faas_redis_handlers_t *h);
void ngx_http_faas_redis_stop(void);
ngx_int_t ngx_http_faas_redis_command(ngx_http_faas_redis_reply_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
ngx_uint_t ngx_http_faas_redis_connected(void);
void ngx_http_faas_redis_flush(void);
ngx_uint_t ngx_http_faas_redis_reply_ok(void *reply);
ngx_uint_t ngx_http_faas_redis_reply_count(void *reply);
ngx_int_t ngx_http_faas_redis_reply_integer(void *reply);
ngx_int_t ngx_http_faas_redis_reply_string(void *reply, ngx_uint_t i,
    ngx_str_t *s);
const char *ngx_http_faas_redis_reply_error(void *reply);

/* ngx_http_faas_sync.c */
ngx_int_t ngx_http_faas_sync_init_process(ngx_cycle_t *cycle,
    ngx_http_faas_main_conf_t *fmcf);
ngx_str_t *ngx_http_faas_instance(void);
void ngx_http_faas_sync_wake(ngx_http_faas_revision_conf_t *rev);
void ngx_http_faas_sync_exit_process(void);

/* ngx_http_faas_spec.c */
ngx_int_t ngx_http_faas_spec_publish(ngx_http_faas_main_conf_t *fmcf,
    ngx_log_t *log);

/* ngx_http_faas_metrics.c */
ngx_int_t ngx_http_faas_metrics_init_process(ngx_cycle_t *cycle,
    ngx_http_faas_main_conf_t *fmcf);
void ngx_http_faas_metrics_exit_process(void);

/* ngx_http_faas_status.c */
ngx_int_t ngx_http_faas_status_handler(ngx_http_request_t *r);

/* ngx_http_faas_variables.c */
ngx_int_t ngx_http_faas_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_FAAS_MODULE_H_INCLUDED_ */
