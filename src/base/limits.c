#include "base/limits.h"

#include <string.h>

#include "base/err.h"

struct limits limits_default(void)
{
    struct limits l = {
#define LIMITS_DEF_(type, name, def, max, unit, what) .name = (type)(def),
        LIMITS_LIST(LIMITS_DEF_)
#undef LIMITS_DEF_
    };
    return l;
}

int limits_set(struct limits *l, const char *name, unsigned long long value)
{
#define LIMITS_SET_(type, n, def, max, unit, what) \
    if (strcmp(name, #n) == 0) {              \
        l->n = (type)value;                   \
        return 0;                             \
    }
    LIMITS_LIST(LIMITS_SET_)
#undef LIMITS_SET_
    return ERR_NOT_FOUND;
}

unsigned long long limits_max(const char *name)
{
#define LIMITS_MAX_(type, n, def, max, unit, what) \
    if (strcmp(name, #n) == 0)                     \
        return (max);
    LIMITS_LIST(LIMITS_MAX_)
#undef LIMITS_MAX_
    return 0;
}
