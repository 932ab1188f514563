/*
 * Copyright (C) nginx-faas developers
 *
 * The runtime backends of faas-controller behind one small table of
 * functions, so that the reconcile loop never sees a process, a Docker or a
 * Kubernetes type.  Every function may be called from several threads at
 * once (the controller runs slow runtime calls on a thread pool, so that a
 * slow start of one revision never delays another), returns 0 or -1, and
 * on -1 fills err with one line saying what went wrong.
 */

#ifndef FAAS_RUNTIME_H
#define FAAS_RUNTIME_H


#include <stddef.h>
#include <sys/types.h>


#define FAAS_NAME_MAX        63     /* function and revision: DNS labels */
#define FAAS_REPLICA_ID_MAX  64
#define FAAS_HANDLE_MAX      128    /* a pid, a container id, ... */
#define FAAS_ADDR_MAX        64     /* "127.0.0.1:8001" */
#define FAAS_REASON_MAX      256


/* what to start: one replica of one revision */
typedef struct {
    const char          *function;
    const char          *revision;
    const char          *replica_id;   /* unique, chosen by the controller */
    const char          *exec;         /* command line, for "process" */
    const char          *image;        /* image, for "docker" */
    const char *const   *env;          /* "K=V" of the function's env,
                                          NULL-terminated */
    int                  port;         /* where the replica must listen */
    const char          *log_path;     /* stdout and stderr, for "process" */
} faas_replica_spec_t;


/* what a runtime knows of a replica that exists */
typedef struct {
    char                 function[FAAS_NAME_MAX + 1];
    char                 revision[FAAS_NAME_MAX + 1];
    char                 replica_id[FAAS_REPLICA_ID_MAX + 1];
    char                 handle[FAAS_HANDLE_MAX];
    char                 address[FAAS_ADDR_MAX];  /* "127.0.0.1:PORT" */
    int                  port;
    int                  running;      /* 0: it exited */
    char                 exit_reason[FAAS_REASON_MAX];  /* when not running */
} faas_replica_info_t;


typedef struct faas_runtime_s  faas_runtime_t;

struct faas_runtime_s {
    const char  *name;

    /*
     * Starts a replica and returns at once (readiness is probed by the
     * caller).  Fills handle, which identifies the replica to stop() and
     * inspect().  A replica that cannot start at all (no such executable,
     * no such image: nothing is ever pulled) is an error with the reason.
     */
    int   (*start)(faas_runtime_t *rt, const faas_replica_spec_t *spec,
                   char *handle, size_t handle_len, char *err, size_t errlen);

    /*
     * Stops a replica: SIGTERM (or the engine's stop), then SIGKILL after
     * grace_ms, and frees what it held.  Stopping one that is gone already
     * is a success.
     */
    int   (*stop)(faas_runtime_t *rt, const char *handle, int grace_ms,
                  char *err, size_t errlen);

    /* Fills info for one replica: whether it runs, else why it ended. */
    int   (*inspect)(faas_runtime_t *rt, const char *handle,
                     faas_replica_info_t *info, char *err, size_t errlen);

    /*
     * Every replica this runtime manages, running or not, so that a
     * restarted controller can adopt them.  *list is malloc()ed, the
     * caller frees it.
     */
    int   (*list)(faas_runtime_t *rt, faas_replica_info_t **list, size_t *n,
                  char *err, size_t errlen);

    void  (*free)(faas_runtime_t *rt);

    void  *data;
};


/* local processes; state_dir records them for adoption */
faas_runtime_t *faas_runtime_process_new(const char *state_dir, char *err,
    size_t errlen);

/* containers through the Docker Engine API, e.g. "unix:///run/docker.sock" */
faas_runtime_t *faas_runtime_docker_new(const char *docker_host, char *err,
    size_t errlen);


#endif /* FAAS_RUNTIME_H */
