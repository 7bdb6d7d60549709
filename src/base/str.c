#include "base/str.h"

#include <limits.h>

#include "base/err.h"

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

int str_eq_ci(struct str a, const char *b)
{
    size_t n = strlen(b);
    if (n != a.len)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a.p[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

int str_starts(struct str a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && memcmp(a.p, prefix, n) == 0;
}

int str_to_u64(struct str s, unsigned long long *out)
{
    unsigned long long v = 0;
    if (s.len == 0)
        return ERR_PARSE;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(unsigned char)s.p[i] - '0';
        if (d > 9)
            return ERR_PARSE;
        if (v > (ULLONG_MAX - d) / 10)
            return ERR_PARSE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
