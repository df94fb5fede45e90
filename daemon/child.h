/*
 * The child reaper: SIGCHLD as a libevent signal event, waitpid() in a loop,
 * and a registry of watched pids whose exit is reported by callback.  Every
 * child is reaped, watched or not, so the daemon never keeps zombies.
 */
#ifndef MCPRELAY_CHILD_H
#define MCPRELAY_CHILD_H

#include <sys/types.h>

#include <stddef.h>

struct event_base;
struct child_reaper;

/* status is as from waitpid(): decode with WIFEXITED() and friends. */
typedef void	(*child_exited_cb)(void *arg, pid_t pid, int status);

/*
 * One reaper per process: it reaps every child (waitpid(-1)), so nothing
 * else in the process may wait for children.  NULL if the signal event
 * cannot be added.  Children that exited before it existed are reaped on
 * the first SIGCHLD.
 */
struct child_reaper	*child_reaper_new(struct event_base *);
/*
 * Forgets the watches; kills nothing.  Free the transports using it first.
 * Not from inside an exited callback.  child_reaper_free(NULL) is a no-op.
 */
void			 child_reaper_free(struct child_reaper *);

/*
 * Call exited once when pid is reaped, from the event loop; the watch is
 * removed before the call.  Watch right after fork(), before returning to
 * the loop, so the exit cannot be missed.  -1 with errno EEXIST if pid is
 * already watched.
 */
int	child_reaper_watch(struct child_reaper *, pid_t pid,
	    child_exited_cb exited, void *arg);
/* No callback for pid any more; it is still reaped.  Unknown pids are
 * ignored. */
void	child_reaper_unwatch(struct child_reaper *, pid_t pid);
/* How many pids are watched (stats, tests). */
size_t	child_reaper_count(const struct child_reaper *);

#endif
