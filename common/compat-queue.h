/*
 * <sys/queue.h> plus the _SAFE iterators that the BSDs have and glibc lacks.
 */
#ifndef MCPRELAY_COMPAT_QUEUE_H
#define MCPRELAY_COMPAT_QUEUE_H

#include <sys/queue.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST((head));				\
	    (var) && ((tvar) = TAILQ_NEXT((var), field), 1);		\
	    (var) = (tvar))
#endif

#endif
