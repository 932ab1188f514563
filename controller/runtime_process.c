/*
 * Copyright (C) nginx-faas developers
 *
 * The "process" runtime: every replica is a local process started with
 * posix_spawn() from the revision's exec= command line (split by argv.c,
 * never given to a shell), in a session and process group of its own, so
 * that a signal to the controller's group (a SIGKILL of the whole
 * service, a ^C in its terminal) never takes the replicas down with it.
 *
 * The environment of a replica is exactly PORT, port, FAAS_FUNCTION,
 * FAAS_REVISION, the function's env entries and PATH (the function's, else
 * a default): nothing of the controller's leaks into it.  Standard input is
 * /dev/null; standard output and error are appended to the replica's log.
 *
 * Each replica is recorded in the state directory as <replica_id>.replica,
 * written whole and renamed into place, holding its pid, the start time of
 * that pid (field 22 of /proc/<pid>/stat, so that a pid reused by another
 * process is never taken for the replica), its process group, port, names
 * and log.  A controller that restarts lists the directory and adopts the
 * replicas that still run.
 *
 * The handle of a replica is "PID:START_TIME": the pid alone would be
 * ambiguous once the pid of a replica that ended is reused by a new one,
 * and stopping the old one must never kill the new one.
 *
 * Exit statuses: the runtime reaps only the pids it started, one at a time
 * (waitpid(pid, WNOHANG), never waitpid(-1)), under a mutex, and keeps
 * every status it reaped in a table until the replica is stopped, so that
 * whichever thread reaps a child, every later inspect() still reports how
 * it ended.  The rest of the controller must therefore neither ignore
 * SIGCHLD nor reap with waitpid(-1) or wait(): that would take statuses
 * away from this table (such a replica is then reported as "exited, status
 * collected elsewhere").
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fail.h"
#include "spec.h"
#include "argv.h"
#include "runtime.h"


#define FAAS_PROCESS_DEFAULT_PATH                                            \
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define FAAS_PROCESS_SUFFIX        ".replica"
#define FAAS_PROCESS_POLL_MS       10
#define FAAS_PROCESS_KILL_WAIT_MS  5000     /* after SIGKILL */
#define FAAS_PROCESS_RECORD_MAX    (PATH_MAX + 1024)


/* what the runtime knows of one replica: its record, and how it ended */
typedef struct {
    pid_t               pid;
    pid_t               pgid;
    unsigned long long  start_time;    /* clock ticks after boot */
    int                 port;
    int                 child;         /* spawned by this process */
    int                 reaped;        /* status is valid */
    int                 status;        /* from waitpid() */
    int                 lost;          /* reaped elsewhere: status unknown */
    char                function[FAAS_NAME_MAX + 1];
    char                revision[FAAS_NAME_MAX + 1];
    char                replica_id[FAAS_REPLICA_ID_MAX + 1];
} faas_process_replica_t;


typedef struct {
    char                    *state_dir;

    /* the replicas this process started or adopted; and waitpid() calls */
    pthread_mutex_t          lock;
    faas_process_replica_t  *replicas;
    size_t                   nreplicas;
    size_t                   replicas_cap;
} faas_process_t;


/* the parts of /proc/<pid>/stat used here */
typedef struct {
    char                state;         /* R, S, D, Z, ... */
    pid_t               pgrp;
    unsigned long long  start_time;
} faas_process_stat_t;


static int faas_process_start(faas_runtime_t *rt,
    const faas_replica_spec_t *spec, char *handle, size_t handle_len,
    char *err, size_t errlen);
static int faas_process_stop(faas_runtime_t *rt, const char *handle,
    int grace_ms, char *err, size_t errlen);
static int faas_process_inspect(faas_runtime_t *rt, const char *handle,
    faas_replica_info_t *info, char *err, size_t errlen);
static int faas_process_list(faas_runtime_t *rt, faas_replica_info_t **list,
    size_t *n, char *err, size_t errlen);
static void faas_process_free(faas_runtime_t *rt);


static void
faas_process_sleep_ms(long ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* the rest of it */
    }
}


static long long
faas_process_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* ---- names, handles and /proc ------------------------------------------ */


/* A handle is "PID:START_TIME", both decimal, the pid greater than 1. */
static int
faas_process_parse_handle(const char *handle, pid_t *pid,
    unsigned long long *start_time)
{
    unsigned long long  v;
    const char         *s;
    char               *end;

    if (handle == NULL || handle[0] < '0' || handle[0] > '9') {
        return -1;
    }

    errno = 0;
    v = strtoull(handle, &end, 10);
    if (errno != 0 || *end != ':' || v <= 1 || v > INT_MAX) {
        return -1;
    }

    *pid = (pid_t) v;
    s = end + 1;

    if (*s < '0' || *s > '9') {
        return -1;
    }

    errno = 0;
    *start_time = strtoull(s, &end, 10);

    return errno != 0 || *end != '\0' ? -1 : 0;
}


static void
faas_process_format_handle(const faas_process_replica_t *r, char *handle,
    size_t len)
{
    snprintf(handle, len, "%d:%llu", (int) r->pid, r->start_time);
}


/*
 * Reads /proc/<pid>/stat.  Returns 0, or -1 when there is no such process
 * (or it cannot be read, which is taken to mean the same).
 */
static int
faas_process_read_stat(pid_t pid, faas_process_stat_t *st)
{
    char                path[64], buf[1024], *p, *end;
    int                 fd, field;
    ssize_t             n;
    unsigned long long  v;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    do {
        n = read(fd, buf, sizeof(buf) - 1);
    } while (n == -1 && errno == EINTR);

    close(fd);

    if (n <= 0) {
        return -1;
    }

    buf[n] = '\0';

    /* "pid (comm) state ppid pgrp ...": comm may hold spaces and ')' */
    p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ') {
        return -1;
    }

    p += 2;
    st->state = *p;

    /* p is at field 3 */
    for (field = 3; field <= 22; field++) {
        while (*p == ' ') {
            p++;
        }

        if (field == 3) {
            while (*p != ' ' && *p != '\0') {
                p++;
            }
            continue;
        }

        errno = 0;
        v = strtoull(p, &end, 10);
        if (end == p || errno != 0) {
            return -1;
        }
        p = end;

        if (field == 5) {
            st->pgrp = (pid_t) v;

        } else if (field == 22) {
            st->start_time = v;
        }
    }

    return 0;
}


static void
faas_process_describe_status(int status, char *reason, size_t len)
{
    if (WIFEXITED(status)) {
        snprintf(reason, len, "exited with status %d", WEXITSTATUS(status));

    } else if (WIFSIGNALED(status)) {
        snprintf(reason, len, "killed by signal %d%s", WTERMSIG(status),
                 WCOREDUMP(status) ? " (core dumped)" : "");

    } else {
        snprintf(reason, len, "ended with wait status 0x%x", status);
    }
}


/* ---- the table of known replicas --------------------------------------- */


/* Must hold p->lock.  Returns the entry of that process, or NULL. */
static faas_process_replica_t *
faas_process_find_locked(faas_process_t *p, pid_t pid,
    unsigned long long start_time)
{
    size_t  i;

    for (i = 0; i < p->nreplicas; i++) {
        if (p->replicas[i].pid == pid
            && p->replicas[i].start_time == start_time)
        {
            return &p->replicas[i];
        }
    }

    return NULL;
}


/*
 * Adds r to the table unless an entry with its pid and start time exists.
 * Returns 0, or -1 when out of memory.
 */
static int
faas_process_remember(faas_process_t *p, const faas_process_replica_t *r)
{
    faas_process_replica_t  *grown;
    size_t                   cap;
    int                      rc;

    rc = 0;

    pthread_mutex_lock(&p->lock);

    if (faas_process_find_locked(p, r->pid, r->start_time) != NULL) {
        goto done;
    }

    if (p->nreplicas == p->replicas_cap) {
        cap = p->replicas_cap ? p->replicas_cap * 2 : 16;
        grown = realloc(p->replicas, cap * sizeof(*grown));
        if (grown == NULL) {
            rc = -1;
            goto done;
        }
        p->replicas = grown;
        p->replicas_cap = cap;
    }

    p->replicas[p->nreplicas++] = *r;

done:

    pthread_mutex_unlock(&p->lock);

    return rc;
}


static void
faas_process_forget(faas_process_t *p, pid_t pid,
    unsigned long long start_time)
{
    faas_process_replica_t  *t;

    pthread_mutex_lock(&p->lock);

    t = faas_process_find_locked(p, pid, start_time);
    if (t != NULL) {
        *t = p->replicas[--p->nreplicas];
    }

    pthread_mutex_unlock(&p->lock);
}


/*
 * Collects the status of r if r is a child of ours that has ended, into
 * both r and the table.  Returns 1 if r is reaped (now or before), else 0.
 * A child whose status another waitpid() took is marked lost and no
 * longer a child.
 */
static int
faas_process_reap(faas_process_t *p, faas_process_replica_t *r)
{
    faas_process_replica_t  *t;
    pid_t                    rc;
    int                      status;

    if (!r->child) {
        return r->reaped;
    }

    pthread_mutex_lock(&p->lock);

    t = faas_process_find_locked(p, r->pid, r->start_time);

    if (t != NULL && t->child && !t->reaped) {
        do {
            rc = waitpid(r->pid, &status, WNOHANG);
        } while (rc == -1 && errno == EINTR);

        if (rc == r->pid) {
            t->reaped = 1;
            t->status = status;

        } else if (rc == -1) {
            t->lost = 1;
            t->child = 0;
        }
    }

    if (t != NULL) {
        *r = *t;
    }

    pthread_mutex_unlock(&p->lock);

    return r->reaped;
}


/* ---- state files -------------------------------------------------------- */


static int
faas_process_record_path(faas_process_t *p, const char *replica_id,
    const char *suffix, char *path, size_t len)
{
    int  n;

    n = snprintf(path, len, "%s/%s%s%s", p->state_dir, replica_id,
                 FAAS_PROCESS_SUFFIX, suffix);

    return n < 0 || (size_t) n >= len ? -1 : 0;
}


/*
 * Writes the record of r, whole: a temporary file renamed into place, so
 * that a reader never sees half of one.
 */
static int
faas_process_write_record(faas_process_t *p, const faas_process_replica_t *r,
    const char *log_path, char *err, size_t errlen)
{
    char     path[PATH_MAX], tmp[PATH_MAX], buf[FAAS_PROCESS_RECORD_MAX];
    int      fd, len;
    ssize_t  n;

    if (faas_process_record_path(p, r->replica_id, "", path, sizeof(path))
        != 0
        || faas_process_record_path(p, r->replica_id, ".tmp", tmp,
                                    sizeof(tmp)) != 0)
    {
        return faas_fail(err, errlen, "state path too long");
    }

    len = snprintf(buf, sizeof(buf),
                   "faas-replica 1\n"
                   "pid %d\n"
                   "start_time %llu\n"
                   "pgid %d\n"
                   "port %d\n"
                   "function %s\n"
                   "revision %s\n"
                   "replica_id %s\n"
                   "log_path %s\n",
                   (int) r->pid, r->start_time, (int) r->pgid, r->port,
                   r->function, r->revision, r->replica_id, log_path);

    if (len < 0 || (size_t) len >= sizeof(buf)) {
        return faas_fail(err, errlen, "replica record too long");
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd == -1) {
        return faas_fail(err, errlen, "cannot create %s: %s", tmp,
                         strerror(errno));
    }

    do {
        n = write(fd, buf, (size_t) len);
    } while (n == -1 && errno == EINTR);

    /*
     * no fsync(): the record must survive the controller, not the machine
     * (whose replicas would not survive either), and starts stay fast
     */
    if (n != len) {
        faas_fail(err, errlen, "cannot write %s: %s", tmp,
                  n == -1 ? strerror(errno) : "short write");
        close(fd);
        unlink(tmp);
        return -1;
    }

    if (close(fd) != 0 || rename(tmp, path) != 0) {
        faas_fail(err, errlen, "cannot write %s: %s", path,
                  strerror(errno));
        unlink(tmp);
        return -1;
    }

    return 0;
}


static int
faas_process_copy_field(char *dst, size_t size, const char *value)
{
    size_t  len;

    len = strlen(value);
    if (len == 0 || len >= size) {
        return -1;
    }

    memcpy(dst, value, len + 1);

    return 0;
}


static int
faas_process_parse_int(const char *value, long long min, long long max,
    long long *out)
{
    char  *end;

    if (value[0] < '0' || value[0] > '9') {
        return -1;
    }

    errno = 0;
    *out = strtoll(value, &end, 10);

    return errno != 0 || *end != '\0' || *out < min || *out > max ? -1 : 0;
}


/*
 * Reads the record at path into r.  Returns 0, or -1 if it cannot be read
 * or is not a complete record (which the callers skip).
 */
static int
faas_process_read_record(const char *path, faas_process_replica_t *r)
{
    char       buf[FAAS_PROCESS_RECORD_MAX], *line, *next, *value;
    int        fd, seen;
    ssize_t    n;
    size_t     len;
    long long  v;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    len = 0;
    for ( ;; ) {
        n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t) n;
        if (len == sizeof(buf) - 1) {
            break;
        }
    }

    close(fd);

    if (n == -1 || len == sizeof(buf) - 1) {
        return -1;
    }

    buf[len] = '\0';

    memset(r, 0, sizeof(*r));
    seen = 0;

    for (line = buf; *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next == NULL) {
            return -1;     /* a record always ends with a newline */
        }
        *next++ = '\0';

        value = strchr(line, ' ');
        if (value == NULL) {
            return -1;
        }
        *value++ = '\0';

        if (strcmp(line, "faas-replica") == 0) {
            if (strcmp(value, "1") != 0) {
                return -1;
            }
            seen |= 0x01;

        } else if (strcmp(line, "pid") == 0) {
            if (faas_process_parse_int(value, 2, INT_MAX, &v) != 0) {
                return -1;
            }
            r->pid = (pid_t) v;
            seen |= 0x02;

        } else if (strcmp(line, "start_time") == 0) {
            if (faas_process_parse_int(value, 0, LLONG_MAX, &v) != 0) {
                return -1;
            }
            r->start_time = (unsigned long long) v;
            seen |= 0x04;

        } else if (strcmp(line, "pgid") == 0) {
            if (faas_process_parse_int(value, 2, INT_MAX, &v) != 0) {
                return -1;
            }
            r->pgid = (pid_t) v;
            seen |= 0x08;

        } else if (strcmp(line, "port") == 0) {
            if (faas_process_parse_int(value, 1, 65535, &v) != 0) {
                return -1;
            }
            r->port = (int) v;
            seen |= 0x10;

        } else if (strcmp(line, "function") == 0) {
            if (faas_process_copy_field(r->function, sizeof(r->function),
                                        value) != 0)
            {
                return -1;
            }
            seen |= 0x20;

        } else if (strcmp(line, "revision") == 0) {
            if (faas_process_copy_field(r->revision, sizeof(r->revision),
                                        value) != 0)
            {
                return -1;
            }
            seen |= 0x40;

        } else if (strcmp(line, "replica_id") == 0) {
            if (faas_process_copy_field(r->replica_id, sizeof(r->replica_id),
                                        value) != 0
                || !faas_spec_valid_replica_id(r->replica_id))
            {
                return -1;
            }
            seen |= 0x80;
        }

        /* log_path and keys added later are not needed here */
    }

    return seen == 0xff ? 0 : -1;
}


/*
 * Finds the record of that process in the state directory (a replica
 * adopted from an earlier controller) and remembers it.  Returns 0 and
 * fills r, or -1 if there is none.
 */
static int
faas_process_scan_for(faas_process_t *p, pid_t pid,
    unsigned long long start_time, faas_process_replica_t *r)
{
    DIR            *dir;
    struct dirent  *de;
    char            path[PATH_MAX];
    size_t          len, slen;
    int             found;

    dir = opendir(p->state_dir);
    if (dir == NULL) {
        return -1;
    }

    found = 0;
    slen = strlen(FAAS_PROCESS_SUFFIX);

    while (!found && (de = readdir(dir)) != NULL) {
        len = strlen(de->d_name);
        if (len <= slen
            || strcmp(de->d_name + len - slen, FAAS_PROCESS_SUFFIX) != 0)
        {
            continue;
        }

        if ((size_t) snprintf(path, sizeof(path), "%s/%s", p->state_dir,
                              de->d_name) >= sizeof(path)
            || faas_process_read_record(path, r) != 0)
        {
            continue;
        }

        found = r->pid == pid && r->start_time == start_time;
    }

    closedir(dir);

    if (!found) {
        return -1;
    }

    r->child = 0;
    faas_process_remember(p, r);

    return 0;
}


/*
 * Looks a replica up: in the table, else in the state directory.  Returns 0
 * and fills r, or -1 when this runtime has no such replica.
 */
static int
faas_process_lookup(faas_process_t *p, pid_t pid,
    unsigned long long start_time, faas_process_replica_t *r)
{
    faas_process_replica_t  *t;

    pthread_mutex_lock(&p->lock);

    t = faas_process_find_locked(p, pid, start_time);
    if (t != NULL) {
        *r = *t;
    }

    pthread_mutex_unlock(&p->lock);

    if (t != NULL) {
        return 0;
    }

    return faas_process_scan_for(p, pid, start_time, r);
}


/*
 * Is r running?  Fills reason when not.  For a child of ours this reaps it
 * if it ended; for another process it compares the start time in /proc with
 * the recorded one, so that a reused pid is never taken for the replica.
 */
static int
faas_process_running(faas_process_t *p, faas_process_replica_t *r,
    char *reason, size_t len)
{
    faas_process_stat_t  st;

    if (faas_process_reap(p, r)) {
        faas_process_describe_status(r->status, reason, len);
        return 0;
    }

    if (r->child) {
        return 1;      /* not reaped yet: the pid is still ours */
    }

    if (faas_process_read_stat(r->pid, &st) != 0
        || st.start_time != r->start_time)
    {
        snprintf(reason, len, "%s",
                 r->lost ? "exited (its status was collected elsewhere)"
                 : "exited (status unknown: not started by this controller)");
        return 0;
    }

    if (st.state == 'Z') {
        snprintf(reason, len, "exited (a zombie its parent has not reaped)");
        return 0;
    }

    return 1;
}


static void
faas_process_fill_info(const faas_process_replica_t *r, int running,
    const char *reason, faas_replica_info_t *info)
{
    memset(info, 0, sizeof(*info));

    snprintf(info->function, sizeof(info->function), "%s", r->function);
    snprintf(info->revision, sizeof(info->revision), "%s", r->revision);
    snprintf(info->replica_id, sizeof(info->replica_id), "%s", r->replica_id);
    faas_process_format_handle(r, info->handle, sizeof(info->handle));
    snprintf(info->address, sizeof(info->address), "127.0.0.1:%d", r->port);
    info->port = r->port;
    info->running = running;

    if (!running) {
        snprintf(info->exit_reason, sizeof(info->exit_reason), "%s", reason);
    }
}


/* ---- start --------------------------------------------------------------- */


static char *
faas_process_env_entry(const char *name, const char *value)
{
    size_t   nlen, vlen;
    char    *e;

    nlen = strlen(name);
    vlen = strlen(value);

    e = malloc(nlen + vlen + 2);
    if (e != NULL) {
        memcpy(e, name, nlen);
        e[nlen] = '=';
        memcpy(e + nlen + 1, value, vlen + 1);
    }

    return e;
}


static void
faas_process_free_env(char **env)
{
    size_t  i;

    if (env != NULL) {
        for (i = 0; env[i] != NULL; i++) {
            free(env[i]);
        }
        free(env);
    }
}


/* Is "NAME=..." entry e named name? */
static int
faas_process_env_is(const char *e, const char *name)
{
    size_t  len;

    len = strlen(name);

    return strncmp(e, name, len) == 0 && e[len] == '=';
}


/*
 * The replica's whole environment: ours first, then the function's entries
 * (but those that would override ours), then PATH if the function has
 * none.  Sets *path to the PATH value used.  Returns NULL with err filled.
 */
static char **
faas_process_build_env(const faas_replica_spec_t *spec, const char **path,
    char *err, size_t errlen)
{
    static const char  *ours[] = {
        "PORT", "port", "FAAS_FUNCTION", "FAAS_REVISION"
    };

    char     port[16], **env;
    size_t   i, j, n, nfn;
    int      skip, have_path;

    nfn = 0;
    if (spec->env != NULL) {
        while (spec->env[nfn] != NULL) {
            nfn++;
        }
    }

    env = calloc(nfn + 6, sizeof(char *));
    if (env == NULL) {
        faas_fail(err, errlen, "out of memory");
        return NULL;
    }

    snprintf(port, sizeof(port), "%d", spec->port);

    n = 0;
    env[n++] = faas_process_env_entry("PORT", port);
    env[n++] = faas_process_env_entry("port", port);
    env[n++] = faas_process_env_entry("FAAS_FUNCTION", spec->function);
    env[n++] = faas_process_env_entry("FAAS_REVISION", spec->revision);

    *path = FAAS_PROCESS_DEFAULT_PATH;
    have_path = 0;

    for (i = 0; i < nfn; i++) {
        const char  *e = spec->env[i];

        if (e[0] == '=' || strchr(e, '=') == NULL) {
            faas_fail(err, errlen,
                      "env entry \"%.64s\" is not NAME=value", e);
            goto failed;
        }

        skip = 0;
        for (j = 0; j < sizeof(ours) / sizeof(ours[0]); j++) {
            skip |= faas_process_env_is(e, ours[j]);
        }
        if (skip) {
            continue;
        }

        if (faas_process_env_is(e, "PATH")) {
            *path = e + 5;
            have_path = 1;
        }

        env[n] = strdup(e);
        if (env[n++] == NULL) {
            goto nomem;
        }
    }

    if (!have_path) {
        env[n] = faas_process_env_entry("PATH", FAAS_PROCESS_DEFAULT_PATH);
        if (env[n++] == NULL) {
            goto nomem;
        }
    }

    for (i = 0; i < 4; i++) {
        if (env[i] == NULL) {
            goto nomem;
        }
    }

    return env;

nomem:

    faas_fail(err, errlen, "out of memory");

failed:

    /* entries after a NULL one were never made: free what is there */
    for (i = 0; i < nfn + 6; i++) {
        free(env[i]);
    }
    free(env);

    return NULL;
}


/*
 * The program to run: argv0 itself when it holds a '/', else the first
 * executable regular file of that name in path.  Returns 0 and fills out,
 * or -1 with err filled.
 */
static int
faas_process_find_program(const char *argv0, const char *path, char *out,
    size_t len, char *err, size_t errlen)
{
    const char   *dir, *end;
    struct stat   sb;
    size_t        dlen;
    int           n;

    if (strchr(argv0, '/') != NULL) {
        if ((size_t) snprintf(out, len, "%s", argv0) >= len) {
            return faas_fail(err, errlen, "program path too long");
        }

        if (stat(out, &sb) != 0) {
            return faas_fail(err, errlen, "cannot run %s: %s", out,
                             strerror(errno));
        }

        if (!S_ISREG(sb.st_mode) || access(out, X_OK) != 0) {
            return faas_fail(err, errlen,
                             "cannot run %s: not an executable file",
                             out);
        }

        return 0;
    }

    for (dir = path; ; dir = end + 1) {
        end = strchr(dir, ':');
        if (end == NULL) {
            end = dir + strlen(dir);
        }

        /* an empty PATH element means the current directory */
        dlen = (size_t) (end - dir);
        n = dlen == 0 ? snprintf(out, len, "./%s", argv0)
                      : snprintf(out, len, "%.*s/%s", (int) dlen, dir, argv0);

        if (n > 0 && (size_t) n < len && stat(out, &sb) == 0
            && S_ISREG(sb.st_mode) && access(out, X_OK) == 0)
        {
            return 0;
        }

        if (*end == '\0') {
            break;
        }
    }

    return faas_fail(err, errlen,
                     "cannot run %s: no executable of that name in "
                     "PATH %s", argv0, path);
}


/*
 * Spawns argv with env: a new session (so a new process group, led by the
 * child), every signal at its default and none blocked, stdin /dev/null,
 * stdout and stderr to logfd, no other descriptor.  Returns 0 or an errno.
 */
static int
faas_process_spawn(const char *program, char *const argv[], char *const env[],
    int logfd, pid_t *pid)
{
    posix_spawn_file_actions_t  fa;
    posix_spawnattr_t           attr;
    sigset_t                    none, all;
    int                         rc;

    rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) {
        return rc;
    }

    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }

    sigemptyset(&none);
    sigfillset(&all);

    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
                                               0)) != 0
        || (rc = posix_spawn_file_actions_adddup2(&fa, logfd, 1)) != 0
        || (rc = posix_spawn_file_actions_adddup2(&fa, logfd, 2)) != 0
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
        || (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0
#endif
        || (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID
                                                 | POSIX_SPAWN_SETSIGMASK
                                                 | POSIX_SPAWN_SETSIGDEF))
           != 0
        || (rc = posix_spawnattr_setsigmask(&attr, &none)) != 0
        || (rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0)
    {
        goto done;
    }

    rc = posix_spawn(pid, program, &fa, &attr, argv, env);

done:

    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);

    return rc;
}


static int
faas_process_start(faas_runtime_t *rt, const faas_replica_spec_t *spec,
    char *handle, size_t handle_len, char *err, size_t errlen)
{
    faas_process_t          *p = rt->data;
    faas_process_replica_t   r;
    faas_process_stat_t      st;
    const char              *log_path, *path;
    char                     program[PATH_MAX], record[PATH_MAX];
    char                     aerr[256];
    char                   **argv, **env;
    pid_t                    pid;
    int                      logfd, rc;

    if (spec->function == NULL || spec->revision == NULL
        || !faas_spec_valid_label(spec->function, strlen(spec->function))
        || !faas_spec_valid_label(spec->revision, strlen(spec->revision)))
    {
        return faas_fail(err, errlen,
                         "bad function or revision name");
    }

    if (!faas_spec_valid_replica_id(spec->replica_id)) {
        return faas_fail(err, errlen,
                         "bad replica id \"%.80s\": 1 to %d of "
                         "[A-Za-z0-9._-], not starting with '.'",
                         spec->replica_id ? spec->replica_id : "",
                         FAAS_REPLICA_ID_MAX);
    }

    if (spec->port < 1 || spec->port > 65535) {
        return faas_fail(err, errlen, "bad port %d", spec->port);
    }

    if (faas_process_record_path(p, spec->replica_id, "", record,
                                 sizeof(record)) != 0)
    {
        return faas_fail(err, errlen, "state path too long");
    }

    if (access(record, F_OK) == 0) {
        return faas_fail(err, errlen,
                         "replica id %s is in use (%s exists: stop "
                         "that replica first)", spec->replica_id,
                         record);
    }

    log_path = spec->log_path != NULL ? spec->log_path : "/dev/null";

    if (strpbrk(log_path, "\r\n") != NULL) {
        return faas_fail(err, errlen, "bad log path");
    }

    if (spec->exec == NULL || faas_argv_split(spec->exec, &argv, aerr,
                                              sizeof(aerr)) != 0)
    {
        return faas_fail(err, errlen, "exec \"%.200s\": %s",
                         spec->exec ? spec->exec : "",
                         spec->exec ? aerr : "empty command");
    }

    env = faas_process_build_env(spec, &path, err, errlen);
    if (env == NULL) {
        faas_argv_free(argv);
        return -1;
    }

    rc = -1;
    logfd = -1;

    if (faas_process_find_program(argv[0], path, program, sizeof(program),
                                  err, errlen) != 0)
    {
        goto done;
    }

    logfd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (logfd == -1) {
        faas_fail(err, errlen, "cannot open log %s: %s", log_path,
                  strerror(errno));
        goto done;
    }

    rc = faas_process_spawn(program, argv, env, logfd, &pid);
    if (rc != 0) {
        faas_fail(err, errlen, "cannot run %s: %s", program,
                  strerror(rc));
        rc = -1;
        goto done;
    }

    rc = -1;

    memset(&r, 0, sizeof(r));
    r.pid = pid;
    r.pgid = pid;              /* a session leader leads its group */
    r.port = spec->port;
    r.child = 1;
    snprintf(r.function, sizeof(r.function), "%s", spec->function);
    snprintf(r.revision, sizeof(r.revision), "%s", spec->revision);
    snprintf(r.replica_id, sizeof(r.replica_id), "%s", spec->replica_id);

    /* not reaped yet, so /proc/<pid> is there even if it has exited */
    if (faas_process_read_stat(pid, &st) != 0) {
        faas_fail(err, errlen, "cannot read /proc/%d/stat",
                  (int) pid);
        goto undo;
    }

    r.start_time = st.start_time;

    if (faas_process_remember(p, &r) != 0) {
        faas_fail(err, errlen, "out of memory");
        goto undo;
    }

    if (faas_process_write_record(p, &r, log_path, err, errlen) != 0) {
        faas_process_forget(p, r.pid, r.start_time);
        goto undo;
    }

    if (handle_len < 32) {
        faas_fail(err, errlen, "handle buffer too small");
        goto undo;
    }

    faas_process_format_handle(&r, handle, handle_len);

    rc = 0;
    goto done;

undo:

    /* nothing records it: it must not outlive this call */
    kill(-pid, SIGKILL);
    while (waitpid(pid, NULL, 0) == -1 && errno == EINTR) {
        /* again */
    }

done:

    if (logfd != -1) {
        close(logfd);
    }
    faas_process_free_env(env);
    faas_argv_free(argv);

    return rc;
}


/* ---- stop ---------------------------------------------------------------- */


/*
 * Is any process but a zombie left in r's process group?  A process group
 * keeps its id from being reused as a pid, so while a member lives, the
 * group is r's; if the id now belongs to another process (other start
 * time), r's group is empty.
 */
static int
faas_process_group_alive(faas_process_t *p, faas_process_replica_t *r)
{
    faas_process_stat_t   st;
    DIR                  *dir;
    struct dirent        *de;
    char                 *end;
    long                  v;
    int                   alive;

    if (faas_process_reap(p, r) == 0 && r->child) {
        return 1;              /* our leader, not reaped: it runs */
    }

    if (faas_process_read_stat(r->pgid, &st) == 0) {
        if (st.start_time != r->start_time) {
            return 0;          /* the id was reused: the group is gone */
        }
        if (st.state != 'Z') {
            return 1;
        }
    }

    if (kill(-r->pgid, 0) != 0 && errno == ESRCH) {
        return 0;
    }

    /* members but the leader: are they all zombies? */
    dir = opendir("/proc");
    if (dir == NULL) {
        return 1;
    }

    alive = 0;

    while (!alive && (de = readdir(dir)) != NULL) {
        v = strtol(de->d_name, &end, 10);
        if (*end != '\0' || v <= 0) {
            continue;
        }
        if (faas_process_read_stat((pid_t) v, &st) == 0
            && st.pgrp == r->pgid && st.state != 'Z')
        {
            alive = 1;
        }
    }

    closedir(dir);

    return alive;
}


/*
 * Signals r's process group, unless the group id now names another
 * process's group (the leader is gone and its pid was reused).
 */
static void
faas_process_signal(faas_process_t *p, faas_process_replica_t *r, int sig)
{
    faas_process_stat_t  st;

    if (!(faas_process_reap(p, r) == 0 && r->child)
        && faas_process_read_stat(r->pgid, &st) == 0
        && st.start_time != r->start_time)
    {
        return;
    }

    kill(-r->pgid, sig);
}


/* Waits up to wait_ms for r's group to end.  Returns 1 if it did. */
static int
faas_process_wait_group(faas_process_t *p, faas_process_replica_t *r,
    long wait_ms)
{
    long long  deadline;

    deadline = faas_process_now_ms() + wait_ms;

    for ( ;; ) {
        if (!faas_process_group_alive(p, r)) {
            return 1;
        }

        if (faas_process_now_ms() >= deadline) {
            return 0;
        }

        faas_process_sleep_ms(FAAS_PROCESS_POLL_MS);
    }
}


static int
faas_process_stop(faas_runtime_t *rt, const char *handle, int grace_ms,
    char *err, size_t errlen)
{
    faas_process_t          *p = rt->data;
    faas_process_replica_t   r;
    unsigned long long       start_time;
    char                     path[PATH_MAX];
    pid_t                    pid;

    if (faas_process_parse_handle(handle, &pid, &start_time) != 0) {
        return faas_fail(err, errlen, "bad handle \"%.32s\"",
                         handle ? handle : "");
    }

    if (faas_process_lookup(p, pid, start_time, &r) != 0) {
        return 0;              /* stopped and forgotten already */
    }

    if (faas_process_group_alive(p, &r)) {

        if (grace_ms > 0) {
            faas_process_signal(p, &r, SIGTERM);
        }

        if (grace_ms <= 0 || !faas_process_wait_group(p, &r, grace_ms)) {
            faas_process_signal(p, &r, SIGKILL);

            if (!faas_process_wait_group(p, &r, FAAS_PROCESS_KILL_WAIT_MS)) {
                return faas_fail(err, errlen,
                                 "replica %s (pid %d) still runs "
                                 "%d ms after SIGKILL",
                                 r.replica_id, (int) pid,
                                 FAAS_PROCESS_KILL_WAIT_MS);
            }
        }
    }

    if (faas_process_record_path(p, r.replica_id, "", path, sizeof(path)) == 0
        && unlink(path) != 0 && errno != ENOENT)
    {
        return faas_fail(err, errlen, "cannot remove %s: %s", path,
                         strerror(errno));
    }

    faas_process_forget(p, r.pid, r.start_time);

    return 0;
}


/* ---- inspect and list ---------------------------------------------------- */


static int
faas_process_inspect(faas_runtime_t *rt, const char *handle,
    faas_replica_info_t *info, char *err, size_t errlen)
{
    faas_process_t          *p = rt->data;
    faas_process_replica_t   r;
    unsigned long long       start_time;
    char                     reason[FAAS_REASON_MAX];
    pid_t                    pid;
    int                      running;

    if (faas_process_parse_handle(handle, &pid, &start_time) != 0) {
        return faas_fail(err, errlen, "bad handle \"%.32s\"",
                         handle ? handle : "");
    }

    if (faas_process_lookup(p, pid, start_time, &r) != 0) {
        memset(info, 0, sizeof(*info));
        snprintf(info->handle, sizeof(info->handle), "%s", handle);
        snprintf(info->exit_reason, sizeof(info->exit_reason),
                 "no such replica is recorded (stopped already?)");
        return 0;
    }

    reason[0] = '\0';
    running = faas_process_running(p, &r, reason, sizeof(reason));

    faas_process_fill_info(&r, running, reason, info);

    return 0;
}


static int
faas_process_list(faas_runtime_t *rt, faas_replica_info_t **list, size_t *n,
    char *err, size_t errlen)
{
    faas_process_t          *p = rt->data;
    faas_process_replica_t   r;
    faas_replica_info_t     *out, *grown;
    DIR                     *dir;
    struct dirent           *de;
    char                     path[PATH_MAX], reason[FAAS_REASON_MAX];
    size_t                   count, cap, len, slen;
    int                      running;

    *list = NULL;
    *n = 0;

    dir = opendir(p->state_dir);
    if (dir == NULL) {
        return faas_fail(err, errlen, "cannot read %s: %s",
                         p->state_dir, strerror(errno));
    }

    out = NULL;
    count = 0;
    cap = 0;
    slen = strlen(FAAS_PROCESS_SUFFIX);

    while ((de = readdir(dir)) != NULL) {
        len = strlen(de->d_name);
        if (len <= slen
            || strcmp(de->d_name + len - slen, FAAS_PROCESS_SUFFIX) != 0)
        {
            continue;
        }

        if ((size_t) snprintf(path, sizeof(path), "%s/%s", p->state_dir,
                              de->d_name) >= sizeof(path)
            || faas_process_read_record(path, &r) != 0)
        {
            continue;          /* half a record or a stranger: not ours */
        }

        /* what this process knows of it wins (a child, an exit status) */
        r.child = 0;
        if (faas_process_remember(p, &r) != 0
            || faas_process_lookup(p, r.pid, r.start_time, &r) != 0)
        {
            goto nomem;
        }

        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            grown = realloc(out, cap * sizeof(*out));
            if (grown == NULL) {
                goto nomem;
            }
            out = grown;
        }

        reason[0] = '\0';
        running = faas_process_running(p, &r, reason, sizeof(reason));
        faas_process_fill_info(&r, running, reason, &out[count++]);
    }

    closedir(dir);

    *list = out;
    *n = count;

    return 0;

nomem:

    closedir(dir);
    free(out);

    return faas_fail(err, errlen, "out of memory");
}


/* ---- construction -------------------------------------------------------- */


static void
faas_process_free(faas_runtime_t *rt)
{
    faas_process_t  *p;

    if (rt == NULL) {
        return;
    }

    p = rt->data;

    /* the replicas live on: a restarted controller adopts them */
    pthread_mutex_destroy(&p->lock);
    free(p->replicas);
    free(p->state_dir);
    free(p);
    free(rt);
}


/* mkdir -p, the last component with mode 0700 */
static int
faas_process_mkdirs(const char *dir, char *err, size_t errlen)
{
    char    path[PATH_MAX];
    char   *s;
    size_t  len;

    len = strlen(dir);
    if (len == 0 || len >= sizeof(path)) {
        return faas_fail(err, errlen, "bad state directory");
    }

    memcpy(path, dir, len + 1);

    for (s = path + 1; *s != '\0'; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                return faas_fail(err, errlen, "cannot create %s: %s",
                                 path, strerror(errno));
            }
            *s = '/';
        }
    }

    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return faas_fail(err, errlen, "cannot create %s: %s", path,
                         strerror(errno));
    }

    return 0;
}


faas_runtime_t *
faas_runtime_process_new(const char *state_dir, char *err, size_t errlen)
{
    faas_runtime_t  *rt;
    faas_process_t  *p;
    struct stat      sb;

    if (state_dir == NULL || faas_process_mkdirs(state_dir, err, errlen) != 0)
    {
        if (state_dir == NULL) {
            faas_fail(err, errlen, "no state directory");
        }
        return NULL;
    }

    if (stat(state_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)
        || access(state_dir, W_OK | X_OK) != 0)
    {
        faas_fail(err, errlen, "state directory %s is not a "
                  "writable directory", state_dir);
        return NULL;
    }

    rt = calloc(1, sizeof(*rt));
    p = calloc(1, sizeof(*p));

    if (rt == NULL || p == NULL || (p->state_dir = strdup(state_dir)) == NULL)
    {
        free(rt);
        free(p);
        faas_fail(err, errlen, "out of memory");
        return NULL;
    }

    pthread_mutex_init(&p->lock, NULL);

    rt->name = "process";
    rt->start = faas_process_start;
    rt->stop = faas_process_stop;
    rt->inspect = faas_process_inspect;
    rt->list = faas_process_list;
    rt->free = faas_process_free;
    rt->data = p;

    return rt;
}
