/*
 * Copyright (C) nginx-faas developers
 *
 * Flags and FAAS_* variables into a faas_config_t.  One table lists every
 * setting once: its flag, its variable and how its value is read, so that
 * --help, the environment and the command line cannot drift apart.
 */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "config.h"
#include "faas_scaler.h"


typedef int (*faas_config_set_pt)(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);


typedef struct {
    const char          *flag;      /* without the leading "--" */
    const char          *env;
    faas_config_set_pt   set;
} faas_config_option_t;


static int faas_config_set_redis(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_password(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_user(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_db(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_prefix(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_runtime(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_docker_host(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_port_range(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_state_dir(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_log_dir(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_start_timeout(faas_config_t *cfg,
    const char *value, char *err, size_t errlen);
static int faas_config_set_drain_timeout(faas_config_t *cfg,
    const char *value, char *err, size_t errlen);
static int faas_config_set_stop_grace(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_log_level(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_scaler(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_tick(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_stable_window(faas_config_t *cfg,
    const char *value, char *err, size_t errlen);
static int faas_config_set_panic_window(faas_config_t *cfg,
    const char *value, char *err, size_t errlen);
static int faas_config_set_panic_threshold(faas_config_t *cfg,
    const char *value, char *err, size_t errlen);
static int faas_config_set_up_rate(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_down_rate(faas_config_t *cfg, const char *value,
    char *err, size_t errlen);
static int faas_config_set_utilization(faas_config_t *cfg,
    const char *value, char *err, size_t errlen);
static int faas_config_set_metrics_stale(faas_config_t *cfg,
    const char *value, char *err, size_t errlen);
static int faas_config_set_instance_expiry(faas_config_t *cfg,
    const char *value, char *err, size_t errlen);


static const faas_config_option_t  faas_config_options[] = {
    { "redis",          "FAAS_REDIS",          faas_config_set_redis },
    { "redis-password", "FAAS_REDIS_PASSWORD", faas_config_set_password },
    { "redis-user",     "FAAS_REDIS_USER",     faas_config_set_user },
    { "redis-db",       "FAAS_REDIS_DB",       faas_config_set_db },
    { "prefix",         "FAAS_PREFIX",         faas_config_set_prefix },
    { "runtime",        "FAAS_RUNTIME",        faas_config_set_runtime },
    { "docker-host",    "FAAS_DOCKER_HOST",    faas_config_set_docker_host },
    { "port-range",     "FAAS_PORT_RANGE",     faas_config_set_port_range },
    { "state-dir",      "FAAS_STATE_DIR",      faas_config_set_state_dir },
    { "log-dir",        "FAAS_LOG_DIR",        faas_config_set_log_dir },
    { "start-timeout",  "FAAS_START_TIMEOUT",  faas_config_set_start_timeout },
    { "drain-timeout",  "FAAS_DRAIN_TIMEOUT",  faas_config_set_drain_timeout },
    { "stop-grace",     "FAAS_STOP_GRACE",     faas_config_set_stop_grace },
    { "log-level",      "FAAS_LOG_LEVEL",      faas_config_set_log_level },
    { "scaler",         "FAAS_SCALER",         faas_config_set_scaler },
    { "tick",           "FAAS_TICK",           faas_config_set_tick },
    { "stable-window",  "FAAS_STABLE_WINDOW",  faas_config_set_stable_window },
    { "panic-window",   "FAAS_PANIC_WINDOW",   faas_config_set_panic_window },
    { "panic-threshold", "FAAS_PANIC_THRESHOLD",
      faas_config_set_panic_threshold },
    { "max-scale-up-rate", "FAAS_MAX_SCALE_UP_RATE",
      faas_config_set_up_rate },
    { "max-scale-down-rate", "FAAS_MAX_SCALE_DOWN_RATE",
      faas_config_set_down_rate },
    { "target-utilization", "FAAS_TARGET_UTILIZATION",
      faas_config_set_utilization },
    { "metrics-stale",  "FAAS_METRICS_STALE",  faas_config_set_metrics_stale },
    { "instance-expiry", "FAAS_INSTANCE_EXPIRY",
      faas_config_set_instance_expiry },
};

#define FAAS_CONFIG_NOPTIONS                                                  \
    (sizeof(faas_config_options) / sizeof(faas_config_options[0]))


static const char  faas_config_usage_text[] =
    "Usage: faas-controller [options]\n"
    "\n"
    "Starts, probes, drains and stops the replicas of the functions that\n"
    "nginx (ngx_http_faas_module) publishes in Redis.  Every option can also\n"
    "be set by the environment variable shown; an option given on the\n"
    "command line wins.\n"
    "\n"
    "  --redis ADDR            FAAS_REDIS           HOST:PORT or unix:/PATH\n"
    "                                               (127.0.0.1:6379)\n"
    "  --redis-password PW     FAAS_REDIS_PASSWORD  AUTH password (none)\n"
    "  --redis-user USER       FAAS_REDIS_USER      ACL user, needs a password\n"
    "  --redis-db N            FAAS_REDIS_DB        database number (0)\n"
    "  --prefix PREFIX         FAAS_PREFIX          key and channel prefix,\n"
    "                                               as nginx's (faas:)\n"
    "  --runtime NAME          FAAS_RUNTIME         process or docker (process)\n"
    "  --docker-host URL       FAAS_DOCKER_HOST     Docker API socket\n"
    "                                               (unix:///var/run/docker.sock)\n"
    "  --port-range LO-HI      FAAS_PORT_RANGE      replica ports (20000-29999)\n"
    "  --state-dir DIR         FAAS_STATE_DIR       runtime state\n"
    "                                               (/var/lib/faas-controller)\n"
    "  --log-dir DIR           FAAS_LOG_DIR         replica logs\n"
    "                                               (STATE-DIR/logs)\n"
    "  --start-timeout TIME    FAAS_START_TIMEOUT   start to ready, at most (30s)\n"
    "  --drain-timeout TIME    FAAS_DRAIN_TIMEOUT   drain before stop, at most\n"
    "                                               (30s)\n"
    "  --stop-grace TIME       FAAS_STOP_GRACE      SIGTERM to SIGKILL (10s)\n"
    "  --log-level LEVEL       FAAS_LOG_LEVEL       error, warn, info or debug\n"
    "                                               (info)\n"
    "\n"
    "Scaling (docs/scaling.md; min, max, target and idle come from each\n"
    "function's \"scale\" directive in nginx.conf):\n"
    "\n"
    "  --scaler on|off         FAAS_SCALER          decide desired counts from\n"
    "                                               nginx's metrics; off: only\n"
    "                                               by hand and by wakes (on)\n"
    "  --tick TIME             FAAS_TICK            decision interval (2s)\n"
    "  --stable-window TIME    FAAS_STABLE_WINDOW   averaging window (60s)\n"
    "  --panic-window TIME     FAAS_PANIC_WINDOW    burst window, at most the\n"
    "                                               stable window (6s)\n"
    "  --panic-threshold PCT   FAAS_PANIC_THRESHOLD panic when the burst\n"
    "                                               window asks for PCT% of\n"
    "                                               the ready replicas (200)\n"
    "  --max-scale-up-rate X   FAAS_MAX_SCALE_UP_RATE\n"
    "                                               at most X times more per\n"
    "                                               decision (1000)\n"
    "  --max-scale-down-rate X FAAS_MAX_SCALE_DOWN_RATE\n"
    "                                               at most X times fewer per\n"
    "                                               decision (2)\n"
    "  --target-utilization PCT\n"
    "                          FAAS_TARGET_UTILIZATION\n"
    "                                               target share of\n"
    "                                               \"concurrency\" when no\n"
    "                                               target= is set (70)\n"
    "  --metrics-stale TIME    FAAS_METRICS_STALE   older nginx metrics are\n"
    "                                               missing: no scale-down (5s)\n"
    "  --instance-expiry TIME  FAAS_INSTANCE_EXPIRY an nginx silent this long\n"
    "                                               is gone, no longer missing\n"
    "                                               (60s)\n"
    "  --help                                       this text\n"
    "\n"
    "TIME is a number with a unit: 500ms, 30s, 2m (no unit: seconds).\n";


static const char  *faas_config_levels[] = { "error", "warn", "info", "debug" };


static int
faas_config_copy(char *dst, size_t size, const char *value, const char *what,
    char *err, size_t errlen)
{
    size_t  len;

    len = strlen(value);

    if (len == 0) {
        return faas_fail(err, errlen, "%s must not be empty", what);
    }

    if (len >= size) {
        return faas_fail(err, errlen, "%s is too long (%zu > %zu)",
                         what, len, size - 1);
    }

    memcpy(dst, value, len + 1);

    return 0;
}


/* A whole decimal number in [min, max], nothing else. */

static int
faas_config_number(const char *value, long min, long max, long *out)
{
    long   n;
    char  *end;

    if (*value < '0' || *value > '9') {
        return -1;
    }

    errno = 0;
    n = strtol(value, &end, 10);

    if (errno || *end != '\0' || n < min || n > max) {
        return -1;
    }

    *out = n;

    return 0;
}


/*
 * A duration: digits and a unit of ms, s or m (none: seconds), more than
 * 0 and at most a day, in milliseconds.
 */

static int
faas_config_duration(const char *value, int *ms)
{
    long long    n, scale;
    const char  *p;

    n = 0;

    for (p = value; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');

        if (n > 86400000) {
            return -1;
        }
    }

    if (p == value) {
        return -1;
    }

    if (*p == '\0' || strcmp(p, "s") == 0) {
        scale = 1000;

    } else if (strcmp(p, "ms") == 0) {
        scale = 1;

    } else if (strcmp(p, "m") == 0) {
        scale = 60000;

    } else {
        return -1;
    }

    n *= scale;

    if (n <= 0 || n > 86400000) {
        return -1;
    }

    *ms = (int) n;

    return 0;
}


static int
faas_config_set_redis(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    long         port;
    size_t       hostlen;
    const char  *colon, *host, *end;

    if (faas_config_copy(cfg->redis_addr, sizeof(cfg->redis_addr), value,
                         "--redis", err, errlen) != 0)
    {
        return -1;
    }

    cfg->redis_unix[0] = '\0';
    cfg->redis_host[0] = '\0';

    if (strncmp(value, "unix:", 5) == 0) {
        return faas_config_copy(cfg->redis_unix, sizeof(cfg->redis_unix),
                                value + 5, "--redis unix: path", err, errlen);
    }

    /* "host", "host:port", "[v6]" or "[v6]:port" */

    host = value;
    end = NULL;

    if (*value == '[') {
        host = value + 1;
        end = strchr(host, ']');

        if (end == NULL) {
            return faas_fail(err, errlen,
                             "--redis \"%s\": missing \"]\"", value);
        }

        colon = (end[1] == ':') ? end + 1 : NULL;

        if (end[1] != '\0' && colon == NULL) {
            return faas_fail(err, errlen,
                             "--redis \"%s\": expected HOST:PORT or "
                             "unix:/PATH", value);
        }

    } else {
        colon = strrchr(value, ':');

        if (colon && strchr(value, ':') != colon) {
            return faas_fail(err, errlen,
                             "--redis \"%s\": an IPv6 address goes in "
                             "brackets, as [::1]:6379", value);
        }

        end = colon ? colon : value + strlen(value);
    }

    hostlen = (size_t) (end - host);

    if (hostlen == 0 || hostlen >= sizeof(cfg->redis_host)) {
        return faas_fail(err, errlen,
                         "--redis \"%s\": expected HOST:PORT or "
                         "unix:/PATH", value);
    }

    memcpy(cfg->redis_host, host, hostlen);
    cfg->redis_host[hostlen] = '\0';
    cfg->redis_port = 6379;

    if (colon) {
        if (faas_config_number(colon + 1, 1, 65535, &port) != 0) {
            return faas_fail(err, errlen,
                             "--redis \"%s\": bad port", value);
        }

        cfg->redis_port = (int) port;
    }

    return 0;
}


static int
faas_config_set_password(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    (void) err;
    (void) errlen;

    cfg->redis_password = value;

    return 0;
}


static int
faas_config_set_user(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    if (*value == '\0') {
        return faas_fail(err, errlen, "--redis-user must not be empty");
    }

    cfg->redis_user = value;

    return 0;
}


static int
faas_config_set_db(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    long  db;

    if (faas_config_number(value, 0, 1000000, &db) != 0) {
        return faas_fail(err, errlen, "--redis-db \"%s\": expected a "
                         "number from 0 to 1000000", value);
    }

    cfg->redis_db = (int) db;

    return 0;
}


/* the same rule as the module's prefix=, so that both can name the keys */

static int
faas_config_set_prefix(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    size_t       len;
    const char  *p;

    len = strlen(value);

    if (len == 0 || len > FAAS_PREFIX_MAX) {
        return faas_fail(err, errlen, "--prefix \"%s\": expected 1 to "
                         "%d characters", value, FAAS_PREFIX_MAX);
    }

    for (p = value; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || strchr(":_.{}-", *p)))
        {
            return faas_fail(err, errlen, "--prefix \"%s\": only "
                             "[A-Za-z0-9:_.{}-] are allowed", value);
        }
    }

    memcpy(cfg->prefix, value, len + 1);

    return 0;
}


static int
faas_config_set_runtime(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    if (strcmp(value, "process") != 0 && strcmp(value, "docker") != 0) {
        return faas_fail(err, errlen, "--runtime \"%s\": expected "
                         "process or docker", value);
    }

    cfg->runtime = value;

    return 0;
}


static int
faas_config_set_docker_host(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    if (strncmp(value, "unix:///", 8) != 0) {
        return faas_fail(err, errlen, "--docker-host \"%s\": expected "
                         "unix:///PATH", value);
    }

    cfg->docker_host = value;

    return 0;
}


static int
faas_config_set_port_range(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    long         lo, hi;
    char         buf[16];
    const char  *dash;

    dash = strchr(value, '-');

    if (dash == NULL || (size_t) (dash - value) >= sizeof(buf)) {
        goto bad;
    }

    memcpy(buf, value, dash - value);
    buf[dash - value] = '\0';

    if (faas_config_number(buf, 1, 65535, &lo) != 0
        || faas_config_number(dash + 1, 1, 65535, &hi) != 0
        || lo > hi)
    {
        goto bad;
    }

    cfg->port_lo = (int) lo;
    cfg->port_hi = (int) hi;

    return 0;

bad:

    return faas_fail(err, errlen, "--port-range \"%s\": expected LO-HI "
                     "with 1 <= LO <= HI <= 65535", value);
}


static int
faas_config_set_state_dir(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    return faas_config_copy(cfg->state_dir, sizeof(cfg->state_dir) - 8, value,
                            "--state-dir", err, errlen);
}


static int
faas_config_set_log_dir(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    return faas_config_copy(cfg->log_dir, sizeof(cfg->log_dir), value,
                            "--log-dir", err, errlen);
}


static int
faas_config_set_time(int *ms, const char *flag, const char *value, char *err,
    size_t errlen)
{
    if (faas_config_duration(value, ms) != 0) {
        return faas_fail(err, errlen, "--%s \"%s\": expected a time "
                         "such as 500ms, 30s or 2m, at most a day",
                         flag, value);
    }

    return 0;
}


static int
faas_config_set_start_timeout(faas_config_t *cfg, const char *value,
    char *err, size_t errlen)
{
    return faas_config_set_time(&cfg->start_timeout_ms, "start-timeout",
                                value, err, errlen);
}


static int
faas_config_set_drain_timeout(faas_config_t *cfg, const char *value,
    char *err, size_t errlen)
{
    return faas_config_set_time(&cfg->drain_timeout_ms, "drain-timeout",
                                value, err, errlen);
}


static int
faas_config_set_stop_grace(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    return faas_config_set_time(&cfg->stop_grace_ms, "stop-grace", value,
                                err, errlen);
}


static int
faas_config_set_log_level(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    size_t  i;

    for (i = 0; i < sizeof(faas_config_levels) / sizeof(char *); i++) {
        if (strcmp(value, faas_config_levels[i]) == 0) {
            cfg->log_level = (faas_log_level_t) i;
            return 0;
        }
    }

    return faas_fail(err, errlen, "--log-level \"%s\": expected error, "
                     "warn, info or debug", value);
}


static int
faas_config_set_scaler(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    if (strcmp(value, "on") == 0) {
        cfg->scaler = 1;

    } else if (strcmp(value, "off") == 0) {
        cfg->scaler = 0;

    } else {
        return faas_fail(err, errlen, "--scaler \"%s\": expected on "
                         "or off", value);
    }

    return 0;
}


static int
faas_config_set_tick(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    if (faas_config_set_time(&cfg->tick_ms, "tick", value, err, errlen)
        != 0)
    {
        return -1;
    }

    if (cfg->tick_ms < 10) {
        return faas_fail(err, errlen, "--tick \"%s\": at least 10ms",
                         value);
    }

    return 0;
}


static int
faas_config_set_stable_window(faas_config_t *cfg, const char *value,
    char *err, size_t errlen)
{
    return faas_config_set_time(&cfg->stable_window_ms, "stable-window",
                                value, err, errlen);
}


static int
faas_config_set_panic_window(faas_config_t *cfg, const char *value,
    char *err, size_t errlen)
{
    return faas_config_set_time(&cfg->panic_window_ms, "panic-window",
                                value, err, errlen);
}


static int
faas_config_set_panic_threshold(faas_config_t *cfg, const char *value,
    char *err, size_t errlen)
{
    long  pct;

    if (faas_config_number(value, 100, 100000, &pct) != 0) {
        return faas_fail(err, errlen, "--panic-threshold \"%s\": "
                         "expected a percentage from 100 to 100000",
                         value);
    }

    cfg->panic_threshold_pct = (int) pct;

    return 0;
}


/* a factor such as 2 or 1.5, from 1 to 1000000 */

static int
faas_config_rate(double *rate, const char *flag, const char *value,
    char *err, size_t errlen)
{
    char    *end;
    double   v;

    errno = 0;
    v = (*value >= '0' && *value <= '9') ? strtod(value, &end) : NAN;

    if (errno || isnan(v) || *end != '\0' || v < 1.0 || v > 1000000.0) {
        return faas_fail(err, errlen, "--%s \"%s\": expected a "
                         "number from 1 to 1000000, such as 2 or 1.5",
                         flag, value);
    }

    *rate = v;

    return 0;
}


static int
faas_config_set_up_rate(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    return faas_config_rate(&cfg->max_scale_up_rate, "max-scale-up-rate",
                            value, err, errlen);
}


static int
faas_config_set_down_rate(faas_config_t *cfg, const char *value, char *err,
    size_t errlen)
{
    return faas_config_rate(&cfg->max_scale_down_rate, "max-scale-down-rate",
                            value, err, errlen);
}


static int
faas_config_set_utilization(faas_config_t *cfg, const char *value,
    char *err, size_t errlen)
{
    long  pct;

    if (faas_config_number(value, 1, 100, &pct) != 0) {
        return faas_fail(err, errlen, "--target-utilization \"%s\": "
                         "expected a percentage from 1 to 100", value);
    }

    cfg->utilization_pct = (int) pct;

    return 0;
}


static int
faas_config_set_metrics_stale(faas_config_t *cfg, const char *value,
    char *err, size_t errlen)
{
    return faas_config_set_time(&cfg->metrics_stale_ms, "metrics-stale",
                                value, err, errlen);
}


static int
faas_config_set_instance_expiry(faas_config_t *cfg, const char *value,
    char *err, size_t errlen)
{
    return faas_config_set_time(&cfg->instance_expiry_ms, "instance-expiry",
                                value, err, errlen);
}


static const char *
faas_config_getenv(char *const *envp, const char *name)
{
    size_t  len;

    if (envp == NULL) {
        return NULL;
    }

    len = strlen(name);

    for ( /* void */ ; *envp; envp++) {
        if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=') {
            return *envp + len + 1;
        }
    }

    return NULL;
}


static const faas_config_option_t *
faas_config_find(const char *flag, size_t len)
{
    size_t  i;

    for (i = 0; i < FAAS_CONFIG_NOPTIONS; i++) {
        if (strlen(faas_config_options[i].flag) == len
            && strncmp(faas_config_options[i].flag, flag, len) == 0)
        {
            return &faas_config_options[i];
        }
    }

    return NULL;
}


static void
faas_config_defaults(faas_config_t *cfg)
{
    char  err[8];

    memset(cfg, 0, sizeof(faas_config_t));

    (void) faas_config_set_redis(cfg, "127.0.0.1:6379", err, sizeof(err));
    strcpy(cfg->prefix, "faas:");
    cfg->runtime = "process";
    cfg->docker_host = "unix:///var/run/docker.sock";
    cfg->port_lo = 20000;
    cfg->port_hi = 29999;
    strcpy(cfg->state_dir, "/var/lib/faas-controller");
    cfg->start_timeout_ms = 30000;
    cfg->drain_timeout_ms = 30000;
    cfg->stop_grace_ms = 10000;
    cfg->log_level = FAAS_LOG_INFO;

    cfg->scaler = 1;
    cfg->tick_ms = 2000;
    cfg->stable_window_ms = FAAS_SCALER_STABLE_WINDOW_MS;
    cfg->panic_window_ms = FAAS_SCALER_PANIC_WINDOW_MS;
    cfg->panic_threshold_pct = (int) (FAAS_SCALER_PANIC_THRESHOLD * 100);
    cfg->max_scale_up_rate = FAAS_SCALER_MAX_UP_RATE;
    cfg->max_scale_down_rate = FAAS_SCALER_MAX_DOWN_RATE;
    cfg->utilization_pct = FAAS_SCALER_UTILIZATION_PCT;
    cfg->metrics_stale_ms = FAAS_SCALER_STALE_MS;
    cfg->instance_expiry_ms = 60000;
}


int
faas_config_parse(faas_config_t *cfg, int argc, char *const *argv,
    char *const *envp, char *err, size_t errlen)
{
    int                          i;
    size_t                       k, len;
    const char                  *arg, *value, *eq;
    const faas_config_option_t  *opt;

    faas_config_defaults(cfg);

    /* the environment first, so that flags overwrite it */

    for (k = 0; k < FAAS_CONFIG_NOPTIONS; k++) {
        opt = &faas_config_options[k];
        value = faas_config_getenv(envp, opt->env);

        if (value == NULL) {
            continue;
        }

        if (opt->set(cfg, value, err, errlen) != 0) {
            len = strlen(err);
            snprintf(err + len, errlen - len, " (from %s)", opt->env);
            return -1;
        }
    }

    for (i = 1; i < argc; i++) {
        arg = argv[i];

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            return 1;
        }

        if (strncmp(arg, "--", 2) != 0) {
            return faas_fail(err, errlen, "unexpected argument \"%s\" "
                             "(see --help)", arg);
        }

        arg += 2;
        eq = strchr(arg, '=');
        len = eq ? (size_t) (eq - arg) : strlen(arg);

        opt = faas_config_find(arg, len);

        if (opt == NULL) {
            return faas_fail(err, errlen, "unknown option \"--%.*s\" "
                             "(see --help)", (int) len, arg);
        }

        if (eq) {
            value = eq + 1;

        } else if (i + 1 < argc) {
            value = argv[++i];

        } else {
            return faas_fail(err, errlen, "option \"--%s\" needs a "
                             "value", opt->flag);
        }

        if (opt->set(cfg, value, err, errlen) != 0) {
            return -1;
        }
    }

    if (cfg->redis_user && cfg->redis_password == NULL) {
        return faas_fail(err, errlen, "--redis-user needs "
                         "--redis-password (or FAAS_REDIS_PASSWORD)");
    }

    if (cfg->panic_window_ms > cfg->stable_window_ms) {
        return faas_fail(err, errlen, "--panic-window (%d ms) must "
                         "not be longer than --stable-window (%d ms)",
                         cfg->panic_window_ms, cfg->stable_window_ms);
    }

    if (cfg->instance_expiry_ms < cfg->metrics_stale_ms) {
        return faas_fail(err, errlen, "--instance-expiry (%d ms) must "
                         "not be shorter than --metrics-stale (%d ms)",
                         cfg->instance_expiry_ms,
                         cfg->metrics_stale_ms);
    }

    if (cfg->log_dir[0] == '\0') {
        /* the state dir is at most sizeof - 8 long: "/logs" fits */
        snprintf(cfg->log_dir, sizeof(cfg->log_dir), "%.*s/logs",
                 (int) sizeof(cfg->state_dir) - 8, cfg->state_dir);
    }

    return 0;
}


const char *
faas_config_usage(void)
{
    return faas_config_usage_text;
}


const char *
faas_config_level_name(faas_log_level_t level)
{
    return faas_config_levels[level];
}
