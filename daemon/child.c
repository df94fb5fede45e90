/*
 * The child reaper.  SIGCHLD arrives through libevent's signal event, so the
 * reaping runs in the loop like everything else; signals coalesce, hence
 * waitpid(-1, WNOHANG) until nothing is left.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include <event2/event.h>

#include "child.h"
#include "log.h"
#include "xmalloc.h"

struct child_watch {
	pid_t			 pid;
	child_exited_cb		 exited;
	void			*arg;
	LIST_ENTRY(child_watch)	 entry;
};

struct child_reaper {
	struct event_base	*base;
	struct event		*ev_sigchld;
	LIST_HEAD(, child_watch) watches;
	size_t			 nwatches;
};

static struct child_watch *
child_reaper_find(const struct child_reaper *r, pid_t pid)
{
	struct child_watch	*w;

	LIST_FOREACH(w, &r->watches, entry) {
		if (w->pid == pid)
			return w;
	}
	return NULL;
}

static void
child_reaper_remove(struct child_reaper *r, struct child_watch *w)
{
	LIST_REMOVE(w, entry);
	r->nwatches--;
	free(w);
}

/*
 * The watch goes before the callback runs, so the callback may watch,
 * unwatch or free whatever it likes (but not the reaper).
 */
static void
child_reaper_exited(struct child_reaper *r, pid_t pid, int status)
{
	struct child_watch	*w;
	child_exited_cb		 exited;
	void			*arg;

	if ((w = child_reaper_find(r, pid)) == NULL) {
		log_debug("child %ld reaped (unwatched)", (long)pid);
		return;
	}
	exited = w->exited;
	arg = w->arg;
	child_reaper_remove(r, w);
	exited(arg, pid, status);
}

static void
child_reaper_reap(struct child_reaper *r)
{
	pid_t	pid;
	int	status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;	/* 0: none exited yet; ECHILD: no children */
		child_reaper_exited(r, pid, status);
	}
}

static void
child_reaper_sigchld_cb(evutil_socket_t sig, short events, void *arg)
{
	child_reaper_reap(arg);
}

struct child_reaper *
child_reaper_new(struct event_base *base)
{
	struct child_reaper	*r;

	r = xcalloc(1, sizeof *r);
	r->base = base;
	LIST_INIT(&r->watches);
	r->ev_sigchld = evsignal_new(base, SIGCHLD, child_reaper_sigchld_cb,
	    r);
	if (r->ev_sigchld == NULL || evsignal_add(r->ev_sigchld, NULL) == -1) {
		if (r->ev_sigchld != NULL)
			event_free(r->ev_sigchld);
		free(r);
		return NULL;
	}
	return r;
}

void
child_reaper_free(struct child_reaper *r)
{
	struct child_watch	*w;

	if (r == NULL)
		return;
	while ((w = LIST_FIRST(&r->watches)) != NULL)
		child_reaper_remove(r, w);
	event_free(r->ev_sigchld);
	free(r);
}

int
child_reaper_watch(struct child_reaper *r, pid_t pid, child_exited_cb exited,
    void *arg)
{
	struct child_watch	*w;

	if (child_reaper_find(r, pid) != NULL) {
		errno = EEXIST;
		return -1;
	}
	w = xcalloc(1, sizeof *w);
	w->pid = pid;
	w->exited = exited;
	w->arg = arg;
	LIST_INSERT_HEAD(&r->watches, w, entry);
	r->nwatches++;
	return 0;
}

void
child_reaper_unwatch(struct child_reaper *r, pid_t pid)
{
	struct child_watch	*w;

	if ((w = child_reaper_find(r, pid)) != NULL)
		child_reaper_remove(r, w);
}

size_t
child_reaper_count(const struct child_reaper *r)
{
	return r->nwatches;
}
