/*
 * Copyright (C) nginx-faas developers
 *
 * The controller's log: one line per event on stderr,
 * "2025-11-27T01:52:00.123Z [warn] text", safe from any thread.
 */

#ifndef FAAS_LOG_H
#define FAAS_LOG_H


#include "config.h"


void faas_log_set_level(faas_log_level_t level);

void faas_log(faas_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define faas_log_error(...)  faas_log(FAAS_LOG_ERROR, __VA_ARGS__)
#define faas_log_warn(...)   faas_log(FAAS_LOG_WARN, __VA_ARGS__)
#define faas_log_info(...)   faas_log(FAAS_LOG_INFO, __VA_ARGS__)
#define faas_log_debug(...)  faas_log(FAAS_LOG_DEBUG, __VA_ARGS__)


#endif /* FAAS_LOG_H */
