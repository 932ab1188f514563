/*
 * Copyright (C) nginx-faas developers
 *
 * The controller's state, shared by the main loop's files: the functions
 * nginx declared, their revisions, and the replicas that exist.  Owned and
 * touched by the main thread only; pool threads see copies (faas_job_t).
 */

#ifndef FAAS_CTL_H
#define FAAS_CTL_H


#include "config.h"
#include "faas_scaler.h"
#include "metrics.h"
#include "plan.h"
#include "pool.h"
#include "ports.h"
#include "redis.h"
#include "runtime.h"
#include "spec.h"


#define FAAS_LIVENESS_INTERVAL_MS   1000
#define FAAS_LIVENESS_FAILURES      3
#define FAAS_PROBE_INTERVAL_MS      5      /* readiness, while starting */
#define FAAS_PROBE_FAST_INTERVAL_MS 1      /* ... for its first moments */
#define FAAS_PROBE_FAST_FOR_MS      200
#define FAAS_PROBE_TIMEOUT_MS       1000
#define FAAS_RESTART_BASE_MS        1000
#define FAAS_RESTART_CAP_MS         60000
#define FAAS_RESTART_RESET_MS       30000  /* ready this long: forgiven */
#define FAAS_STOP_RETRY_MS          5000
#define FAAS_SPECS_POLL_MS          2000
#define FAAS_DESIRED_POLL_MS        200
#define FAAS_DRAIN_POLL_MS          250
#define FAAS_SWEEP_MS               30000
#define FAAS_WAKE_DEFAULT_MS        30000  /* wake freshness if no queue */
#define FAAS_HEARTBEAT_MS           1000
#define FAAS_HEARTBEAT_TTL_MS       5000


/* one function of the specs hash */
typedef struct faas_function_s  faas_function_t;

struct faas_function_s {
    faas_function_t   *next;
    faas_spec_t        spec;           /* no revisions: never parsed */
    unsigned long      bad_hash;       /* of the last bad text logged */
    int                seen;           /* in the last specs read */
};


typedef struct faas_revision_s  faas_revision_t;

struct faas_revision_s {
    faas_revision_t             *next;
    char                         function[FAAS_NAME_MAX + 1];
    char                         revision[FAAS_NAME_MAX + 1];

    /* NULL when nginx no longer declares it */
    faas_function_t             *fn;
    const faas_spec_revision_t  *spec;

    int                          requested;         /* desired hash, -1 */
    int                          requested_demand;  /* by a wake or the
                                                       scaler, not by hand */
    int                          desired;
    const char                  *cannot_run;        /* why not, or NULL */
    long long                    start_at_ms;       /* no start before */
    long long                    ready_at_ms;       /* a replica last
                                                       became ready */
    unsigned long                fingerprint;       /* of exec, image, env */
    char                         reason[FAAS_REASON_MAX];

    /* the scaler (autoscale.c) */
    faas_scaler_state_t          scaler;
    faas_metrics_peers_t         peers;             /* nginx instances */
    int                          pinned;            /* a count by hand */
    int                          decided;           /* the scaler's count */
    int                          policy_logged;
    int                          metrics_logged;    /* bad records */
    char                         desired_reason[FAAS_REASON_MAX];

    /* the desired hash as the controller last wrote it */
    int                          desired_written;
    int                          written_replicas;
    char                         written_reason[FAAS_REASON_MAX];

    /* the status hash as last written, to write only changes */
    int                          status_written;
    int                          status_desired;
    faas_plan_summary_t          status;
    char                         status_reason[FAAS_REASON_MAX];
    char                         status_desired_reason[FAAS_REASON_MAX];

    size_t                       index;             /* scratch, for plans */
};


typedef enum {
    FAAS_REPLICA_STARTING = 0,   /* start job: start, probe until ready */
    FAAS_REPLICA_ADOPTING,       /* found at start-up; adopt job probes it */
    FAAS_REPLICA_READY,          /* published, probed every second */
    FAAS_REPLICA_RESTARTING,     /* failed: stop job clears what is left */
    FAAS_REPLICA_BACKOFF,        /* waiting until retry_at_ms to start */
    FAAS_REPLICA_DRAINING,       /* unpublished, waiting for nginx */
    FAAS_REPLICA_STOPPING        /* stop job, then forgotten */
} faas_replica_state_t;


typedef struct faas_job_s      faas_job_t;
typedef struct faas_replica_s  faas_replica_t;

struct faas_replica_s {
    faas_replica_t         *next;
    faas_revision_t        *revision;
    char                    id[FAAS_REPLICA_ID_MAX + 1];
    char                    handle[FAAS_HANDLE_MAX];
    char                    address[FAAS_ADDR_MAX];
    int                     port;
    int                     port_taken;     /* from our range, to release */
    unsigned long           fingerprint;    /* of the spec it runs */

    faas_replica_state_t    state;
    int                     removing;       /* leaves for good */
    int                     published;      /* READY: Redis has it */
    faas_job_t             *job;            /* running on the pool */

    long long               started_ms;
    long long               ready_ms;
    long long               unpublished_ms; /* DRAINING; 0: not yet */
    long long               retry_at_ms;    /* BACKOFF, stop retries */
    long long               probe_at_ms;    /* next liveness probe */
    int                     probe_failures;

    int                     restarts;
    int                     failures;       /* in a row, for the backoff */
    int                     start_error;    /* the runtime refused it */
    char                    last_exit[FAAS_REASON_MAX];

    int                     record_dirty;   /* <prefix>replicas record */
};


typedef enum {
    FAAS_JOB_START = 0,
    FAAS_JOB_ADOPT,
    FAAS_JOB_LIVENESS,
    FAAS_JOB_STOP
} faas_job_kind_t;


/*
 * A runtime call with probes, run on a pool thread.  Inputs are copies,
 * so that a spec replaced meanwhile cannot change under the thread; the
 * replica is only touched by the main thread, when the job comes back.
 */
struct faas_job_s {
    faas_pool_task_t        task;           /* first: the pool's view */
    faas_job_kind_t         kind;
    faas_replica_t         *replica;
    faas_runtime_t         *runtime;

    faas_replica_spec_t     spec;           /* START: points into below */
    char                   *exec;
    char                   *image;
    char                  **env;
    char                    log_path[FAAS_CONFIG_PATH_MAX + 80];
    char                    function[FAAS_NAME_MAX + 1];
    char                    revision[FAAS_NAME_MAX + 1];
    char                    replica_id[FAAS_REPLICA_ID_MAX + 1];
    char                    health[FAAS_HEALTH_MAX + 1];
    char                    address[FAAS_ADDR_MAX];
    char                    handle[FAAS_HANDLE_MAX];
    int                     timeout_ms;
    int                     grace_ms;

    /* results */
    int                     ok;
    int                     started;        /* handle is valid */
    int                     exited;         /* the replica is not running */
    char                    error[FAAS_REASON_MAX];
};


typedef struct {
    const faas_config_t    *cfg;
    faas_runtime_t         *runtime;
    faas_redis_t           *redis;
    faas_pool_t            *pool;
    faas_ports_t            ports;

    faas_function_t        *functions;
    faas_revision_t        *revisions;
    faas_replica_t         *replicas;
    int                     specs_known;    /* a specs hash was read */

    /* keys and channels, with the prefix */
    char                    key_specs[FAAS_PREFIX_MAX + 16];
    char                    key_schema[FAAS_PREFIX_MAX + 16];
    char                    key_wake[FAAS_PREFIX_MAX + 16];
    char                    key_instances[FAAS_PREFIX_MAX + 16];
    char                    ch_endpoints[FAAS_PREFIX_MAX + 16];
    char                    ch_specs[FAAS_PREFIX_MAX + 16];
    char                    ch_wake[FAAS_PREFIX_MAX + 16];
    char                    ch_desired[FAAS_PREFIX_MAX + 16];

    long long               specs_at_ms;    /* next reads */
    long long               desired_at_ms;
    long long               drain_at_ms;
    long long               sweep_at_ms;
    long long               heartbeat_at_ms;
    long long               scale_at_ms;
    long long               started_ms;
    int                     schema_logged;
    int                     reconcile;      /* something changed: plan */
} faas_ctl_t;


/* wall-clock milliseconds: compared with nginx's timestamps in Redis */
long long faas_now_ms(void);

/* the revision record of fn/rev, NULL if none (reconcile.c) */
faas_revision_t *faas_revision_find(faas_ctl_t *ctl, const char *function,
    const char *revision);

/* the same, created (undeclared) when missing; NULL when out of memory */
faas_revision_t *faas_revision_get(faas_ctl_t *ctl, const char *function,
    const char *revision);

/*
 * The replicas of rev that count towards its desired count (starting,
 * adopting, ready, waiting to restart), and in *ready those ready
 * (reconcile.c).
 */
int faas_revision_counted(faas_ctl_t *ctl, faas_revision_t *rev, int *ready);

/* the replica with that id, NULL if none (replica.c) */
faas_replica_t *faas_replica_find(faas_ctl_t *ctl, const char *id);


#endif /* FAAS_CTL_H */
