#ifndef TG_STR_H
#define TG_STR_H
/* struct str: a borrowed, non-owning view of bytes (not NUL-terminated). */
#include <stddef.h>
#include <string.h>

struct str {
    const char *p;
    size_t len;
};

#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})

static inline struct str str_c(const char *s)
{
    return (struct str){s, s ? strlen(s) : 0};
}

static inline int str_eq(struct str a, struct str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Returns s without leading and trailing spaces and tabs (HTTP's optional whitespace). */
static inline struct str str_trim(struct str s)
{
    while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* Returns 1 when a equals the C string b, ignoring ASCII case. */
int str_eq_ci(struct str a, const char *b);
/* Returns 1 when a starts with the C string prefix. */
int str_starts(struct str a, const char *prefix);
/* Parses a whole unsigned decimal number; returns 0 and sets *out, or ERR_PARSE on any other text
 * or overflow. */
int str_to_u64(struct str s, unsigned long long *out);

#endif
