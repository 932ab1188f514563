/*
 * Copyright (C) nginx-faas developers
 *
 * faas-controller: flags into a config, the runtime, Redis and the thread
 * pool set up, the replicas left by a previous run adopted, then the loop:
 * poll the signal pipe, the pool's completions and the Redis subscriber,
 * and on every turn read what is due from Redis, decide when a scaling
 * tick is due, plan, run timers and report.  On SIGTERM or SIGINT it exits and leaves the replicas running,
 * so that a restarted controller adopts them.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "autoscale.h"
#include "log.h"
#include "reconcile.h"
#include "replica.h"
#include "store.h"


#define FAAS_LOOP_TICK_MS     50
#define FAAS_POOL_THREADS     64


static int                    faas_signal_pipe[2] = { -1, -1 };
static volatile sig_atomic_t  faas_stop;
static volatile sig_atomic_t  faas_child_ended;
static volatile sig_atomic_t  faas_hangup;


long long
faas_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


static void
faas_signal_handler(int signo)
{
    int   saved;
    char  byte;

    saved = errno;

    switch (signo) {

    case SIGTERM:
    case SIGINT:
        faas_stop = 1;
        break;

    case SIGCHLD:
        faas_child_ended = 1;
        break;

    case SIGHUP:
        faas_hangup = 1;
        break;

    default:
        /* SIGPIPE: a handler, not SIG_IGN, so replicas do not inherit it */
        errno = saved;
        return;
    }

    byte = (char) signo;

    if (write(faas_signal_pipe[1], &byte, 1) < 0) {
        /* full: the loop wakes up anyway */
    }

    errno = saved;
}


static int
faas_signals_init(char *err, size_t errlen)
{
    size_t            i;
    struct sigaction  sa;
    static const int  signals[] = { SIGTERM, SIGINT, SIGCHLD, SIGHUP,
                                    SIGPIPE };

    if (pipe2(faas_signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = faas_signal_handler;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);

    for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
        if (sigaction(signals[i], &sa, NULL) != 0) {
            snprintf(err, errlen, "sigaction: %s", strerror(errno));
            return -1;
        }
    }

    return 0;
}


/* mkdir -p */

static int
faas_mkdirs(const char *path, char *err, size_t errlen)
{
    char    buf[FAAS_CONFIG_PATH_MAX];
    char   *p;

    snprintf(buf, sizeof(buf), "%s", path);

    for (p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char  c = *p;

            *p = '\0';

            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create %.400s: %s", buf,
                         strerror(errno));
                return -1;
            }

            *p = c;

            if (c == '\0') {
                return 0;
            }
        }
    }
}


static void
faas_on_message(const char *channel, const char *message, size_t len,
    void *data)
{
    faas_ctl_t  *ctl;

    ctl = data;

    if (strcmp(channel, ctl->ch_wake) == 0) {
        faas_reconcile_wake_message(ctl, message, len);

    } else if (strcmp(channel, ctl->ch_desired) == 0) {
        faas_reconcile_desired_message(ctl, message, len);

    } else if (strcmp(channel, ctl->ch_specs) == 0) {
        faas_reconcile_specs_soon(ctl);
    }
}


static void
faas_ctl_names(faas_ctl_t *ctl)
{
    const char  *p;

    p = ctl->cfg->prefix;

    snprintf(ctl->key_specs, sizeof(ctl->key_specs), "%.64sspecs", p);
    snprintf(ctl->key_schema, sizeof(ctl->key_schema), "%.64sschema", p);
    snprintf(ctl->key_wake, sizeof(ctl->key_wake), "%.64swake", p);
    snprintf(ctl->key_instances, sizeof(ctl->key_instances), "%.64sinstances",
             p);
    snprintf(ctl->ch_endpoints, sizeof(ctl->ch_endpoints), "%.64sch:endpoints",
             p);
    snprintf(ctl->ch_specs, sizeof(ctl->ch_specs), "%.64sch:specs", p);
    snprintf(ctl->ch_wake, sizeof(ctl->ch_wake), "%.64sch:wake", p);
    snprintf(ctl->ch_desired, sizeof(ctl->ch_desired), "%.64sch:desired",
             p);
}


/* Everything main() needs before the loop; err says what failed. */

static int
faas_ctl_init(faas_ctl_t *ctl, const faas_config_t *cfg, char *err,
    size_t errlen)
{
    char                  why[256];
    size_t                i, n;
    const char           *channels[3];
    faas_replica_info_t  *list;

    memset(ctl, 0, sizeof(faas_ctl_t));
    ctl->cfg = cfg;
    ctl->started_ms = faas_now_ms();
    faas_ctl_names(ctl);

    if (faas_signals_init(err, errlen) != 0
        || faas_mkdirs(cfg->state_dir, err, errlen) != 0
        || faas_mkdirs(cfg->log_dir, err, errlen) != 0)
    {
        return -1;
    }

    channels[0] = ctl->ch_specs;
    channels[1] = ctl->ch_wake;
    channels[2] = ctl->ch_desired;

    ctl->redis = faas_redis_new(cfg, channels, 3);

    if (ctl->redis == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    if (faas_redis_connect(ctl->redis, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "cannot use Redis at %.200s: %.250s", cfg->redis_addr,
                 why);
        return -1;
    }

    if (strcmp(cfg->runtime, "docker") == 0) {
        ctl->runtime = faas_runtime_docker_new(cfg->docker_host, err, errlen);

    } else {
        ctl->runtime = faas_runtime_process_new(cfg->state_dir, err, errlen);
    }

    if (ctl->runtime == NULL) {
        return -1;
    }

    if (faas_ports_init(&ctl->ports, cfg->port_lo, cfg->port_hi, NULL, NULL)
        != 0)
    {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    ctl->pool = faas_pool_new(FAAS_POOL_THREADS, err, errlen);

    if (ctl->pool == NULL) {
        return -1;
    }

    /* what a previous run left: adopted or cleared once specs are known */

    list = NULL;
    n = 0;

    if (ctl->runtime->list(ctl->runtime, &list, &n, err, errlen) != 0) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        faas_replica_found(ctl, &list[i]);
    }

    free(list);

    return 0;
}


static void
faas_ctl_free(faas_ctl_t *ctl)
{
    if (ctl->pool) {
        faas_pool_destroy(ctl->pool);
    }

    faas_replica_free_all(ctl);
    faas_reconcile_free(ctl);

    if (ctl->runtime) {
        ctl->runtime->free(ctl->runtime);
    }

    if (ctl->redis) {
        faas_redis_free(ctl->redis);
    }

    faas_ports_free(&ctl->ports);
}


static void
faas_loop(faas_ctl_t *ctl)
{
    int                n;
    char               buf[64];
    long long          now;
    struct pollfd      pfd[3];
    faas_pool_task_t  *task, *next;

    while (!faas_stop) {
        now = faas_now_ms();

        if (faas_redis_maintain(ctl->redis, now)) {
            faas_reconcile_redis_back(ctl);
        }

        faas_reconcile_poll(ctl, now);
        faas_autoscale_tick(ctl, now);

        if (ctl->reconcile) {
            faas_reconcile_apply(ctl);
        }

        faas_replica_tick(ctl, now);
        faas_reconcile_report(ctl);
        faas_store_heartbeat(ctl, now);

        pfd[0].fd = faas_signal_pipe[0];
        pfd[1].fd = faas_pool_fd(ctl->pool);
        pfd[2].fd = faas_redis_fd(ctl->redis);
        pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
        pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;

        n = poll(pfd, pfd[2].fd == -1 ? 2 : 3, FAAS_LOOP_TICK_MS);

        if (n < 0 && errno != EINTR) {
            faas_log_error("poll: %s", strerror(errno));
        }

        while (read(faas_signal_pipe[0], buf, sizeof(buf)) > 0) {
            /* the flags say which */
        }

        if (faas_child_ended) {
            faas_child_ended = 0;
            faas_replica_probe_soon(ctl);
        }

        if (faas_hangup) {
            faas_hangup = 0;
            faas_reconcile_redis_back(ctl);
        }

        for (task = faas_pool_done(ctl->pool); task; task = next) {
            next = task->next;
            faas_replica_job_done(ctl, (faas_job_t *) task);
        }

        if (n > 0 && pfd[2].fd != -1 && (pfd[2].revents & (POLLIN | POLLHUP
                                                           | POLLERR)))
        {
            faas_redis_read(ctl->redis, faas_on_message, ctl);
        }
    }
}


int
main(int argc, char **argv, char **envp)
{
    int            rc;
    char           err[512];
    faas_ctl_t     ctl;
    faas_config_t  cfg;

    rc = faas_config_parse(&cfg, argc, argv, envp, err, sizeof(err));

    if (rc == 1) {
        fputs(faas_config_usage(), stdout);
        return 0;
    }

    if (rc != 0) {
        fprintf(stderr, "faas-controller: %s\n", err);
        return 2;
    }

    faas_log_set_level(cfg.log_level);

    if (faas_ctl_init(&ctl, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "faas-controller: %s\n", err);
        faas_ctl_free(&ctl);
        return 1;
    }

    faas_log_info("faas-controller started: redis %s, prefix %s, runtime "
                  "%s, ports %d-%d, state %s, scaler %s", cfg.redis_addr,
                  cfg.prefix, cfg.runtime, cfg.port_lo, cfg.port_hi,
                  cfg.state_dir, cfg.scaler ? "on" : "off");

    if (cfg.scaler) {
        faas_log_info("scaler: tick %d ms, stable window %d ms, panic window "
                      "%d ms at %d%%, rates up %g down %g, utilization %d%%, "
                      "metrics stale after %d ms, nginx gone after %d ms",
                      cfg.tick_ms, cfg.stable_window_ms, cfg.panic_window_ms,
                      cfg.panic_threshold_pct, cfg.max_scale_up_rate,
                      cfg.max_scale_down_rate, cfg.utilization_pct,
                      cfg.metrics_stale_ms, cfg.instance_expiry_ms);
    }

    faas_loop(&ctl);

    faas_log_info("faas-controller exiting; replicas keep running");

    faas_store_heartbeat_end(&ctl);

    faas_ctl_free(&ctl);

    return 0;
}
