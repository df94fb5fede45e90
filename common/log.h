/*
 * Levelled logging for the daemon and its tools.  Writes to stderr; when
 * stderr is the systemd journal (JOURNAL_STREAM) each line starts with the
 * syslog "<N>" priority so journald keeps the level.
 */
#ifndef MCPRELAY_LOG_H
#define MCPRELAY_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void		 log_init(const char *ident, enum log_level level);
void		 log_set_level(enum log_level level);
enum log_level	 log_get_level(void);
int		 log_level_parse(const char *name, enum log_level *out);
const char	*log_level_name(enum log_level level);

/* log_warn/log_error append strerror(errno); the *x variants do not. */
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For programming errors and start-up failures only. */
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Secrets are never logged: callers pass values that may hold one through
 * log_secret(), which keeps at most a short prefix.
 */
const char	*log_secret(const char *value);

#endif
