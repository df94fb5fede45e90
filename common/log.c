/*
 * Levelled logging in the OpenBSD log.c manner: warn adds errno, warnx does
 * not, fatal is for the impossible.  Journald gets "<N>" priority prefixes.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* The one piece of process-wide logging state; set once at start-up. */
static struct {
	const char	*ident;
	enum log_level	 level;
	int		 journal;
} log_state = { "mcprelay", LOG_LEVEL_INFO, 0 };

static const char *const log_level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/* syslog priorities: err=3, warning=4, info=6, debug=7 */
static const int log_level_prio[] = {
	[LOG_LEVEL_ERROR] = 3,
	[LOG_LEVEL_WARN] = 4,
	[LOG_LEVEL_INFO] = 6,
	[LOG_LEVEL_DEBUG] = 7,
};

static int
log_stderr_is_journal(void)
{
	const char	*js;
	struct stat	 st;
	unsigned long long dev, ino;

	if ((js = getenv("JOURNAL_STREAM")) == NULL)
		return 0;
	if (sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *ident, enum log_level level)
{
	log_state.ident = ident;
	log_state.level = level;
	log_state.journal = log_stderr_is_journal();
}

void
log_set_level(enum log_level level)
{
	log_state.level = level;
}

enum log_level
log_get_level(void)
{
	return log_state.level;
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level > LOG_LEVEL_DEBUG)
		return "unknown";
	return log_level_names[level];
}

int
log_level_parse(const char *name, enum log_level *out)
{
	unsigned	i;

	for (i = 0; i <= LOG_LEVEL_DEBUG; i++) {
		if (strcmp(name, log_level_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	if (strcmp(name, "warn") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

static void
log_vwrite(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char		 msg[4096];
	int		 saved = errno;
	struct timespec	 ts;
	struct tm	 tm;
	char		 stamp[32];

	if (level > log_state.level)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_state.journal) {
		if (with_errno)
			fprintf(stderr, "<%d>%s: %s\n", log_level_prio[level],
			    msg, strerror(saved));
		else
			fprintf(stderr, "<%d>%s\n", log_level_prio[level], msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		if (with_errno)
			fprintf(stderr, "%s.%03ld %s[%d] %s: %s: %s\n", stamp,
			    ts.tv_nsec / 1000000, log_state.ident, (int)getpid(),
			    log_level_names[level], msg, strerror(saved));
		else
			fprintf(stderr, "%s.%03ld %s[%d] %s: %s\n", stamp,
			    ts.tv_nsec / 1000000, log_state.ident, (int)getpid(),
			    log_level_names[level], msg);
	}
	fflush(stderr);
	errno = saved;
}

#define LOG_FN(name, level, with_errno)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vwrite(level, with_errno, fmt, ap);			\
	va_end(ap);						\
}

LOG_FN(log_error, LOG_LEVEL_ERROR, 1)
LOG_FN(log_errorx, LOG_LEVEL_ERROR, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

const char *
log_secret(const char *value)
{
	/* Never reveal any part: length alone can leak short tokens' shape. */
	if (value == NULL || *value == '\0')
		return "(empty)";
	return "(redacted)";
}
