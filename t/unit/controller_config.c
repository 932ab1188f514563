/*
 * Unit tests of controller/config.c: flags, FAAS_* variables, defaults,
 * precedence and the one-line errors.
 */

#include <string.h>

#include "tap.h"
#include "config.h"


static int
parse(faas_config_t *cfg, char **envp, char *err, const char *a1,
    const char *a2, const char *a3)
{
    int    argc;
    char  *argv[5];

    argc = 0;
    argv[argc++] = "faas-controller";

    if (a1) { argv[argc++] = (char *) a1; }
    if (a2) { argv[argc++] = (char *) a2; }
    if (a3) { argv[argc++] = (char *) a3; }

    argv[argc] = NULL;

    return faas_config_parse(cfg, argc, argv, envp, err, 256);
}


int
main(void)
{
    char           err[256];
    faas_config_t  cfg;
    char          *env1[] = { "FAAS_REDIS=10.0.0.1:7000", "FAAS_RUNTIME=docker",
                              "FAAS_PORT_RANGE=100-200", "OTHER=1", NULL };
    char          *env_bad[] = { "FAAS_DRAIN_TIMEOUT=soon", NULL };
    char          *env_pw[] = { "FAAS_REDIS_PASSWORD=s3cret", NULL };

    /* defaults */
    is_int(parse(&cfg, NULL, err, NULL, NULL, NULL), 0, "no flags: runs");
    is_str(cfg.redis_host, "127.0.0.1", "default redis host");
    is_int(cfg.redis_port, 6379, "default redis port");
    is_str(cfg.prefix, "faas:", "default prefix");
    is_str(cfg.runtime, "process", "default runtime");
    is_int(cfg.port_lo, 20000, "default port range low");
    is_int(cfg.port_hi, 29999, "default port range high");
    is_int(cfg.start_timeout_ms, 30000, "default start timeout 30s");
    is_int(cfg.drain_timeout_ms, 30000, "default drain timeout 30s");
    is_int(cfg.stop_grace_ms, 10000, "default stop grace 10s");
    is_str(cfg.log_dir, "/var/lib/faas-controller/logs",
           "log dir defaults to <state-dir>/logs");
    is_int(cfg.log_level, FAAS_LOG_INFO, "default log level info");
    ok(cfg.redis_password == NULL, "no password by default");

    /* flags, both spellings */
    is_int(parse(&cfg, NULL, err, "--redis", "unix:/run/r.sock",
                 "--state-dir=/tmp/s"), 0, "unix socket and --flag=value");
    is_str(cfg.redis_unix, "/run/r.sock", "unix path");
    is_str(cfg.log_dir, "/tmp/s/logs", "log dir follows the state dir");

    is_int(parse(&cfg, NULL, err, "--redis", "[::1]:6380", NULL), 0,
           "IPv6 in brackets");
    is_str(cfg.redis_host, "::1", "IPv6 host");
    is_int(cfg.redis_port, 6380, "IPv6 port");

    is_int(parse(&cfg, NULL, err, "--redis", "redis.local", NULL), 0,
           "host without port");
    is_int(cfg.redis_port, 6379, "port defaults to 6379");

    is_int(parse(&cfg, NULL, err, "--start-timeout", "500ms",
                 "--drain-timeout=2m"), 0, "durations with units");
    is_int(cfg.start_timeout_ms, 500, "500ms");
    is_int(cfg.drain_timeout_ms, 120000, "2m");
    is_int(parse(&cfg, NULL, err, "--stop-grace", "3", NULL), 0,
           "a bare number");
    is_int(cfg.stop_grace_ms, 3000, "a bare number is seconds");

    is_int(parse(&cfg, NULL, err, "--log-level", "debug", "--log-dir=/l"), 0,
           "log level and log dir");
    is_int(cfg.log_level, FAAS_LOG_DEBUG, "debug");
    is_str(cfg.log_dir, "/l", "explicit log dir kept");

    /* environment, and flags winning over it */
    is_int(parse(&cfg, env1, err, NULL, NULL, NULL), 0, "environment only");
    is_str(cfg.redis_host, "10.0.0.1", "FAAS_REDIS host");
    is_int(cfg.redis_port, 7000, "FAAS_REDIS port");
    is_str(cfg.runtime, "docker", "FAAS_RUNTIME");
    is_int(cfg.port_lo, 100, "FAAS_PORT_RANGE low");
    is_int(cfg.port_hi, 200, "FAAS_PORT_RANGE high");

    is_int(parse(&cfg, env1, err, "--runtime", "process", "--port-range=5-6"),
           0, "flags over environment");
    is_str(cfg.runtime, "process", "the flag wins");
    is_int(cfg.port_lo, 5, "the flag's range wins");
    is_str(cfg.redis_host, "10.0.0.1", "the rest still from the environment");

    is_int(parse(&cfg, env_bad, err, NULL, NULL, NULL), -1,
           "a bad variable is an error");
    ok(strstr(err, "FAAS_DRAIN_TIMEOUT") != NULL, "the error names it");

    is_int(parse(&cfg, env_pw, err, "--redis-user", "ctl", NULL), 0,
           "user with the password from the environment");
    is_str(cfg.redis_password, "s3cret", "password");
    is_str(cfg.redis_user, "ctl", "user");

    /* errors: one line each, quoting the value */
    is_int(parse(&cfg, NULL, err, "--nope", NULL, NULL), -1, "unknown flag");
    is_str(err, "unknown option \"--nope\" (see --help)", "its message");
    is_int(parse(&cfg, NULL, err, "--runtime", NULL, NULL), -1,
           "missing value");
    is_str(err, "option \"--runtime\" needs a value", "its message");
    is_int(parse(&cfg, NULL, err, "--runtime", "kubernetes", NULL), -1,
           "unknown runtime");
    ok(strstr(err, "\"kubernetes\"") != NULL, "quotes the value");
    is_int(parse(&cfg, NULL, err, "--port-range", "30-20", NULL), -1,
           "reversed range");
    is_int(parse(&cfg, NULL, err, "--port-range", "0-20", NULL), -1,
           "port 0");
    is_int(parse(&cfg, NULL, err, "--port-range", "1-70000", NULL), -1,
           "port above 65535");
    is_int(parse(&cfg, NULL, err, "--start-timeout", "0s", NULL), -1,
           "zero duration");
    is_int(parse(&cfg, NULL, err, "--start-timeout", "5h", NULL), -1,
           "unknown unit");
    is_int(parse(&cfg, NULL, err, "--start-timeout", "2d", NULL), -1,
           "unknown unit d");
    is_int(parse(&cfg, NULL, err, "--redis", "host:99999", NULL), -1,
           "bad redis port");
    is_int(parse(&cfg, NULL, err, "--redis", "::1", NULL), -1,
           "IPv6 without brackets");
    is_int(parse(&cfg, NULL, err, "--redis-db", "-1", NULL), -1,
           "negative db");
    is_int(parse(&cfg, NULL, err, "--prefix", "a b", NULL), -1,
           "prefix with a space");
    is_int(parse(&cfg, NULL, err, "--prefix", "{faas}:", NULL), 0,
           "prefix with a hash tag");
    is_int(parse(&cfg, NULL, err, "--docker-host", "tcp://1.2.3.4:2375",
                 NULL), -1, "docker host must be a unix socket");
    is_int(parse(&cfg, NULL, err, "--redis-user", "u", NULL), -1,
           "user without password");
    is_int(parse(&cfg, NULL, err, "--log-level", "loud", NULL), -1,
           "bad log level");
    is_int(parse(&cfg, NULL, err, "stray", NULL, NULL), -1,
           "stray argument");
    ok(strchr(err, '\n') == NULL, "errors are one line");

    /* the scaler's settings */
    is_int(parse(&cfg, NULL, err, NULL, NULL, NULL), 0, "defaults again");
    is_int(cfg.scaler, 1, "the scaler is on by default");
    is_int(cfg.tick_ms, 2000, "tick 2s");
    is_int(cfg.stable_window_ms, 60000, "stable window 60s");
    is_int(cfg.panic_window_ms, 6000, "panic window 6s");
    is_int(cfg.panic_threshold_pct, 200, "panic at 200%");
    ok(cfg.max_scale_up_rate == 1000.0, "up rate 1000");
    ok(cfg.max_scale_down_rate == 2.0, "down rate 2");
    is_int(cfg.utilization_pct, 70, "utilization 70%");
    is_int(cfg.metrics_stale_ms, 5000, "metrics stale after 5s");
    is_int(cfg.instance_expiry_ms, 60000, "nginx gone after 60s");

    is_int(parse(&cfg, NULL, err, "--scaler", "off", NULL), 0, "--scaler off");
    is_int(cfg.scaler, 0, "off");
    is_int(parse(&cfg, NULL, err, "--scaler", "maybe", NULL), -1,
           "--scaler takes on or off");
    is_str(err, "--scaler \"maybe\": expected on or off", "its message");
    is_int(parse(&cfg, NULL, err, "--tick", "500ms", NULL), 0, "--tick");
    is_int(cfg.tick_ms, 500, "500 ms");
    is_int(parse(&cfg, NULL, err, "--tick", "5ms", NULL), -1,
           "a tick under 10 ms");
    is_int(parse(&cfg, NULL, err, "--max-scale-down-rate", "1.5", NULL), 0,
           "a rate with a fraction");
    ok(cfg.max_scale_down_rate == 1.5, "1.5");
    is_int(parse(&cfg, NULL, err, "--max-scale-up-rate", "0.5", NULL), -1,
           "a rate under 1");
    is_int(parse(&cfg, NULL, err, "--max-scale-up-rate", "nan", NULL), -1,
           "nan is no rate");
    is_int(parse(&cfg, NULL, err, "--max-scale-up-rate", "2x", NULL), -1,
           "a rate with trailing text");
    is_int(parse(&cfg, NULL, err, "--panic-threshold", "99", NULL), -1,
           "a panic threshold under 100%");
    is_int(parse(&cfg, NULL, err, "--target-utilization", "101", NULL), -1,
           "utilization over 100%");
    is_int(parse(&cfg, NULL, err, "--stable-window", "4s", "--panic-window=5s"),
           -1, "a panic window longer than the stable window");
    ok(strstr(err, "--panic-window") != NULL, "says which");
    is_int(parse(&cfg, NULL, err, "--stable-window", "4s", "--panic-window=1s"),
           0, "short windows");
    is_int(cfg.stable_window_ms, 4000, "stable 4s");
    is_int(cfg.panic_window_ms, 1000, "panic 1s");
    is_int(parse(&cfg, NULL, err, "--instance-expiry", "2s", NULL), -1,
           "an expiry shorter than the staleness bound");
    {
        char  *env_scale[] = { "FAAS_SCALER=off", "FAAS_TICK=250ms",
                               "FAAS_METRICS_STALE=1s",
                               "FAAS_INSTANCE_EXPIRY=3s", NULL };

        is_int(parse(&cfg, env_scale, err, "--scaler", "on", NULL), 0,
               "scaler settings from the environment");
        is_int(cfg.scaler, 1, "the flag wins over FAAS_SCALER");
        is_int(cfg.tick_ms, 250, "FAAS_TICK");
        is_int(cfg.metrics_stale_ms, 1000, "FAAS_METRICS_STALE");
        is_int(cfg.instance_expiry_ms, 3000, "FAAS_INSTANCE_EXPIRY");
    }

    is_int(parse(&cfg, NULL, err, "--redis", "x:1", "--help"), 1,
           "--help asks for the usage");
    ok(strstr(faas_config_usage(), "--drain-timeout") != NULL
       && strstr(faas_config_usage(), "FAAS_STOP_GRACE") != NULL
       && strstr(faas_config_usage(), "--redis-db") != NULL
       && strstr(faas_config_usage(), "--tick") != NULL
       && strstr(faas_config_usage(), "FAAS_SCALER") != NULL,
       "the usage lists flags and variables");

    return tap_done();
}
