#ifndef TG_CLOCK_H
#define TG_CLOCK_H
/* Monotonic clock helpers. */
#include <stdint.h>
#include <time.h>

static inline uint64_t time_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
