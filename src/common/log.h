/*
 * log: structured logging to stderr, one line per event.
 *
 * In json format every line is one JSON object: ts, level, msg, request_id
 * (when the event belongs to a request) and any extra fields. In text format
 * the same facts read as `TS LEVEL [request_id] msg key=value ...`.
 * Secrets never reach this module: callers pass names, never values.
 */
#ifndef PGFLEET_LOG_H
#define PGFLEET_LOG_H

#include <stdbool.h>

#include <jansson.h>

typedef enum LogLevel { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } LogLevel;
typedef enum LogFormat { LOG_FORMAT_JSON, LOG_FORMAT_TEXT } LogFormat;

void log_setup(LogLevel level, LogFormat format);
bool log_enabled(LogLevel level);
/* "debug" -> LOG_DEBUG ...; false when the name is unknown */
bool log_level_parse(const char *name, LogLevel *out) __attribute__((warn_unused_result));
bool log_format_parse(const char *name, LogFormat *out) __attribute__((warn_unused_result));

/*
 * Writes one event. request_id may be NULL; fields (may be NULL) is an object
 * whose members are added to the line, and its reference is stolen.
 */
void log_event(LogLevel level, const char *request_id, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_event(LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define log_info(...)  log_event(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_warn(...)  log_event(LOG_WARN, NULL, NULL, __VA_ARGS__)
#define log_error(...) log_event(LOG_ERROR, NULL, NULL, __VA_ARGS__)

#endif
