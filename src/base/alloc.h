#ifndef TG_ALLOC_H
#define TG_ALLOC_H
/* Allocation wrappers. They abort the process on out-of-memory (like redis' zmalloc), so callers
 * never test for NULL after an allocation. */
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Returns a NUL-terminated copy of s; xstrdup(NULL) returns NULL. */
char *xstrdup(const char *s);
/* Returns a NUL-terminated copy of the first n bytes of s. */
char *xstrndup(const char *s, size_t n);

#endif
