/*
 * log.c - where itemfs's daemon writes its messages: stderr in the
 * foreground, syslog (facility daemon, ident "itemfs") once daemonized.
 * Callers name the table and item themselves; this file only routes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "fs.h"

static bool log_syslog;
static int log_max = LOG_INFO;

void fs_log_init(bool to_syslog, bool debug)
{
	log_syslog = to_syslog;
	log_max = debug ? LOG_DEBUG : LOG_INFO;
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
	fprintf(stderr, "itemfs: %s: ", level_name(priority));
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
