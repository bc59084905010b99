/*
 * log.c - where itemfs's daemon writes its messages: stderr in the
 * foreground, syslog (facility daemon, ident "itemfs") once daemonized,
 * and which of them it writes at all: those at or above the level set by
 * -o log_level (default notice; -d / -o debug mean debug). Callers name
 * the table, item or path and what to do themselves; this file only
 * filters and routes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "fs.h"

/* The names -o log_level accepts, most severe first, and their priorities. */
static const struct {
	const char *name;
	int priority;
} log_levels[] = {
    {"error", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
    {"info", LOG_INFO}, {"debug", LOG_DEBUG},
};

static bool log_syslog;
static int log_max = LOG_NOTICE; /* the least severe priority written */

/*
 * Sets the level from its name (error, warning, notice, info, debug): from
 * then on only messages at least that severe are written. Returns 0, or
 * -EINVAL for any other name (the level is then unchanged). Call it before
 * fs_log_init(), from the one thread there is then.
 */
int fs_log_set_level(const char *name)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcmp(name, log_levels[i].name) == 0) {
			log_max = log_levels[i].priority;
			return 0;
		}
	return -EINVAL;
}

void fs_log_init(bool to_syslog, bool debug)
{
	log_syslog = to_syslog;
	if (debug)
		log_max = LOG_DEBUG;
	if (to_syslog)
		openlog("itemfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static const char *level_name(int priority)
{
	switch (priority) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_DEBUG:
		return "debug";
	default:
		return "info";
	}
}

static void log_v(int priority, const char *fmt, va_list ap)
{
	if (priority > log_max)
		return;
	if (log_syslog) {
		vsyslog(priority, fmt, ap);
		return;
	}
	flockfile(stderr); /* one whole line, whichever thread logs */
	fprintf(stderr, "itemfs: %s: ", level_name(priority));
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void fs_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(priority, fmt, ap);
	va_end(ap);
}

/* The store's log callback (struct store_config.log). */
void fs_log_store(int priority, const char *msg)
{
	fs_log(priority, "store: %s", msg);
}
