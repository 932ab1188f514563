/*
 * Copyright (C) nginx-faas developers
 *
 * runtime-driver: drives one faas-controller runtime backend from the
 * tests (t/40-runtime-*.t), without the rest of the controller.
 *
 *   runtime-driver process STATE_DIR   [COMMAND ARG...]
 *   runtime-driver docker  unix:///SOCK [COMMAND ARG...]
 *
 * With a command it runs that one and exits 0 if it succeeded, else 1.
 * Without one it reads commands from stdin, one JSON array of strings a
 * line, and answers each with one line, until end of input: the replicas
 * it starts then stay its children, as they are the controller's.
 *
 * Commands and their answers (JSON objects, "ok" always present, "error"
 * when ok is false, "ms" the wall time of the runtime call):
 *
 *   start FUNCTION REVISION REPLICA_ID PORT EXEC_OR_IMAGE LOG [K=V ...]
 *                            {"ok":true,"handle":"..."}
 *   stop HANDLE GRACE_MS     {"ok":true}
 *   inspect HANDLE           {"ok":true,"info":{...}}
 *   list                     {"ok":true,"replicas":[{...},...]}
 *   parallel CMD...          each CMD (a JSON array) in a thread of its
 *                            own, all at once: {"ok":true,"results":[...]}
 *                            (stdin mode only)
 *
 * where an info is {"function","revision","replica_id","handle","address",
 * "port","running","exit_reason"}.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "runtime.h"


typedef struct {
    faas_runtime_t  *rt;
    const cJSON     *cmd;
    cJSON           *result;
} driver_job_t;


static cJSON *driver_run(faas_runtime_t *rt, const cJSON *cmd);


static double
driver_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}


static cJSON *
driver_fail(const char *error)
{
    cJSON  *r;

    r = cJSON_CreateObject();
    cJSON_AddFalseToObject(r, "ok");
    cJSON_AddStringToObject(r, "error", error);

    return r;
}


static cJSON *
driver_info(const faas_replica_info_t *info)
{
    cJSON  *o;

    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "function", info->function);
    cJSON_AddStringToObject(o, "revision", info->revision);
    cJSON_AddStringToObject(o, "replica_id", info->replica_id);
    cJSON_AddStringToObject(o, "handle", info->handle);
    cJSON_AddStringToObject(o, "address", info->address);
    cJSON_AddNumberToObject(o, "port", info->port);
    cJSON_AddBoolToObject(o, "running", info->running);
    cJSON_AddStringToObject(o, "exit_reason", info->exit_reason);

    return o;
}


/* The i-th word of cmd, or NULL. */
static const char *
driver_arg(const cJSON *cmd, int i)
{
    const cJSON  *a;

    a = cJSON_GetArrayItem(cmd, i);

    return cJSON_IsString(a) ? a->valuestring : NULL;
}


static void *
driver_job(void *arg)
{
    driver_job_t  *job = arg;

    job->result = driver_run(job->rt, job->cmd);

    return NULL;
}


static cJSON *
driver_parallel(faas_runtime_t *rt, const cJSON *cmd)
{
    driver_job_t  *jobs;
    pthread_t     *tids;
    cJSON         *r, *results;
    int            i, n;

    n = cJSON_GetArraySize(cmd) - 1;

    jobs = calloc((size_t) n + 1, sizeof(*jobs));
    tids = calloc((size_t) n + 1, sizeof(*tids));
    if (jobs == NULL || tids == NULL) {
        free(jobs);
        free(tids);
        return driver_fail("out of memory");
    }

    for (i = 0; i < n; i++) {
        jobs[i].rt = rt;
        jobs[i].cmd = cJSON_GetArrayItem(cmd, i + 1);
        if (pthread_create(&tids[i], NULL, driver_job, &jobs[i]) != 0) {
            jobs[i].result = driver_fail("pthread_create failed");
            jobs[i].cmd = NULL;
        }
    }

    r = cJSON_CreateObject();
    cJSON_AddTrueToObject(r, "ok");
    results = cJSON_AddArrayToObject(r, "results");

    for (i = 0; i < n; i++) {
        if (jobs[i].cmd != NULL) {
            pthread_join(tids[i], NULL);
        }
        cJSON_AddItemToArray(results, jobs[i].result);
    }

    free(jobs);
    free(tids);

    return r;
}


static cJSON *
driver_run(faas_runtime_t *rt, const cJSON *cmd)
{
    faas_replica_spec_t   spec;
    faas_replica_info_t   info, *list;
    const char           *name, **env;
    char                  handle[FAAS_HANDLE_MAX], err[1024];
    cJSON                *r, *arr;
    double                t0;
    size_t                n, i;
    int                   rc, argc, k;

    if (!cJSON_IsArray(cmd) || (name = driver_arg(cmd, 0)) == NULL) {
        return driver_fail("a command is a JSON array of strings");
    }

    argc = cJSON_GetArraySize(cmd);
    err[0] = '\0';
    r = NULL;

    if (strcmp(name, "parallel") == 0) {
        return driver_parallel(rt, cmd);
    }

    for (k = 0; k < argc; k++) {
        if (driver_arg(cmd, k) == NULL) {
            return driver_fail("every argument must be a JSON string");
        }
    }

    if (strcmp(name, "start") == 0) {
        if (argc < 7) {
            return driver_fail("start FUNCTION REVISION REPLICA_ID PORT "
                               "EXEC_OR_IMAGE LOG [K=V ...]");
        }

        env = calloc((size_t) argc, sizeof(char *));
        if (env == NULL) {
            return driver_fail("out of memory");
        }
        for (k = 7; k < argc; k++) {
            env[k - 7] = driver_arg(cmd, k);
        }

        memset(&spec, 0, sizeof(spec));
        spec.function = driver_arg(cmd, 1);
        spec.revision = driver_arg(cmd, 2);
        spec.replica_id = driver_arg(cmd, 3);
        spec.port = atoi(driver_arg(cmd, 4));
        spec.exec = driver_arg(cmd, 5);
        spec.image = driver_arg(cmd, 5);
        spec.log_path = driver_arg(cmd, 6);
        spec.env = env;

        t0 = driver_now_ms();
        rc = rt->start(rt, &spec, handle, sizeof(handle), err, sizeof(err));
        free(env);

        if (rc == 0) {
            r = cJSON_CreateObject();
            cJSON_AddTrueToObject(r, "ok");
            cJSON_AddStringToObject(r, "handle", handle);
        }

    } else if (strcmp(name, "stop") == 0) {
        if (argc != 3) {
            return driver_fail("stop HANDLE GRACE_MS");
        }

        t0 = driver_now_ms();
        rc = rt->stop(rt, driver_arg(cmd, 1), atoi(driver_arg(cmd, 2)), err,
                      sizeof(err));
        if (rc == 0) {
            r = cJSON_CreateObject();
            cJSON_AddTrueToObject(r, "ok");
        }

    } else if (strcmp(name, "inspect") == 0) {
        if (argc != 2) {
            return driver_fail("inspect HANDLE");
        }

        t0 = driver_now_ms();
        rc = rt->inspect(rt, driver_arg(cmd, 1), &info, err, sizeof(err));
        if (rc == 0) {
            r = cJSON_CreateObject();
            cJSON_AddTrueToObject(r, "ok");
            cJSON_AddItemToObject(r, "info", driver_info(&info));
        }

    } else if (strcmp(name, "list") == 0) {
        t0 = driver_now_ms();
        rc = rt->list(rt, &list, &n, err, sizeof(err));
        if (rc == 0) {
            r = cJSON_CreateObject();
            cJSON_AddTrueToObject(r, "ok");
            arr = cJSON_AddArrayToObject(r, "replicas");
            for (i = 0; i < n; i++) {
                cJSON_AddItemToArray(arr, driver_info(&list[i]));
            }
            free(list);
        }

    } else {
        return driver_fail("unknown command");
    }

    if (rc != 0) {
        r = driver_fail(err[0] ? err : "failed, with no error text");
        cJSON_AddBoolToObject(r, "err_was_set", err[0] != '\0');
    }

    cJSON_AddNumberToObject(r, "ms", driver_now_ms() - t0);

    return r;
}


static int
driver_print(cJSON *r)
{
    char  *s;
    int    ok;

    ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"));
    s = cJSON_PrintUnformatted(r);
    printf("%s\n", s != NULL ? s : "{\"ok\":false,\"error\":\"print\"}");
    fflush(stdout);
    cJSON_free(s);
    cJSON_Delete(r);

    return ok;
}


int
main(int argc, char **argv)
{
    faas_runtime_t  *rt;
    cJSON           *cmd;
    char             err[1024], *line;
    size_t           cap;
    int              i, ok;

    if (argc < 3) {
        fprintf(stderr, "usage: %s process STATE_DIR | docker unix:///SOCK "
                "[COMMAND ARG...]\n", argv[0]);
        return 2;
    }

    err[0] = '\0';

    if (strcmp(argv[1], "process") == 0) {
        rt = faas_runtime_process_new(argv[2], err, sizeof(err));
    } else if (strcmp(argv[1], "docker") == 0) {
        rt = faas_runtime_docker_new(argv[2], err, sizeof(err));
    } else {
        fprintf(stderr, "unknown runtime %s\n", argv[1]);
        return 2;
    }

    if (rt == NULL) {
        driver_print(driver_fail(err));
        return 1;
    }

    ok = 1;

    if (argc > 3) {
        cmd = cJSON_CreateArray();
        for (i = 3; i < argc; i++) {
            cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i]));
        }
        ok = driver_print(driver_run(rt, cmd));
        cJSON_Delete(cmd);

    } else {
        line = NULL;
        cap = 0;
        while (getline(&line, &cap, stdin) != -1) {
            cmd = cJSON_Parse(line);
            driver_print(cmd != NULL ? driver_run(rt, cmd)
                                     : driver_fail("not JSON"));
            cJSON_Delete(cmd);
        }
        free(line);
    }

    rt->free(rt);

    return ok ? 0 : 1;
}
