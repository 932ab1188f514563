/*
 * Copyright (C) nginx-faas developers
 *
 * faas-controller's settings: command-line flags, each also settable as a
 * FAAS_* environment variable (a flag wins over its variable).  Parsing is
 * pure: no I/O, the environment is passed in, so that it is unit-tested.
 */

#ifndef FAAS_CONFIG_H
#define FAAS_CONFIG_H


#include <stddef.h>


#define FAAS_CONFIG_PATH_MAX  1024
#define FAAS_CONFIG_HOST_MAX  256
#define FAAS_PREFIX_MAX       64


typedef enum {
    FAAS_LOG_ERROR = 0,
    FAAS_LOG_WARN,
    FAAS_LOG_INFO,
    FAAS_LOG_DEBUG
} faas_log_level_t;


typedef struct {
    /* Redis: TCP host and port, or a unix socket path (redis_unix) */
    char              redis_addr[FAAS_CONFIG_HOST_MAX + 8];
    char              redis_host[FAAS_CONFIG_HOST_MAX];
    int               redis_port;
    char              redis_unix[FAAS_CONFIG_PATH_MAX];
    const char       *redis_password;       /* NULL: no AUTH */
    const char       *redis_user;           /* NULL: AUTH with password only */
    int               redis_db;
    char              prefix[FAAS_PREFIX_MAX + 1];

    const char       *runtime;              /* "process" or "docker" */
    const char       *docker_host;
    int               port_lo;
    int               port_hi;
    char              state_dir[FAAS_CONFIG_PATH_MAX];
    char              log_dir[FAAS_CONFIG_PATH_MAX];

    int               start_timeout_ms;
    int               drain_timeout_ms;
    int               stop_grace_ms;
    faas_log_level_t  log_level;

    /* the scaler (docs/scaling.md); the policy's per-function knobs come
       from the specs, these are the same for every revision */
    int               scaler;               /* 0: desired counts by hand */
    int               tick_ms;              /* decision interval */
    int               stable_window_ms;
    int               panic_window_ms;
    int               panic_threshold_pct;  /* 200: panic at 2x ready */
    double            max_scale_up_rate;
    double            max_scale_down_rate;
    int               utilization_pct;      /* target share of concurrency */
    int               metrics_stale_ms;     /* older snapshots are missing */
    int               instance_expiry_ms;   /* silent this long: nginx gone */
} faas_config_t;


/*
 * Fills cfg from argv (argv[0] is the program) and envp (NULL-terminated
 * "NAME=VALUE" strings, may be NULL).  Returns 0 when the controller should
 * run, 1 when --help was asked for, and -1 with one line in err on a bad or
 * unknown flag or value.  String fields may point into argv and envp, which
 * must outlive cfg.
 */
int faas_config_parse(faas_config_t *cfg, int argc, char *const *argv,
    char *const *envp, char *err, size_t errlen);

/* The --help text: every flag, its variable and its default. */
const char *faas_config_usage(void);

/* "error", "warn", ... for a level. */
const char *faas_config_level_name(faas_log_level_t level);


#endif /* FAAS_CONFIG_H */
