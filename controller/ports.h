/*
 * Copyright (C) nginx-faas developers
 *
 * Replica ports from --port-range: never two replicas on one port, and
 * never a port that something else listens on.  Used by the main thread
 * only.
 */

#ifndef FAAS_PORTS_H
#define FAAS_PORTS_H


/* 1 if nothing holds the port (port_data is passed through) */
typedef int (*faas_ports_free_pt)(int port, void *port_data);


typedef struct {
    int                  lo;
    int                  hi;
    int                  next;       /* where the next search starts */
    unsigned char       *taken;      /* one byte per port of the range */
    faas_ports_free_pt   is_free;
    void                *port_data;
} faas_ports_t;


/*
 * Sets up the range lo..hi.  is_free checks a candidate port; NULL uses
 * faas_ports_bindable().  Returns 0, or -1 when out of memory.
 */
int faas_ports_init(faas_ports_t *ports, int lo, int hi,
    faas_ports_free_pt is_free, void *port_data);

void faas_ports_free(faas_ports_t *ports);

/*
 * Takes a port: the next one after the last taken (round robin, so that
 * a port just given back is not reused at once while nginx may still hold
 * connections to it) that is neither taken nor held by anything else.
 * Returns the port, or -1 when the whole range is in use.
 */
int faas_ports_take(faas_ports_t *ports);

/* Marks a port as taken (an adopted replica's); ports outside the range
 * are ignored. */
void faas_ports_mark(faas_ports_t *ports, int port);

void faas_ports_release(faas_ports_t *ports, int port);

/* 1 if a TCP socket can bind 127.0.0.1:port (nothing listens there). */
int faas_ports_bindable(int port, void *port_data);


#endif /* FAAS_PORTS_H */
