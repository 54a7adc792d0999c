/* What every benchmark program here needs besides the library: a monotonic clock and the CPU's
 * name for the machine line each one prints. Header-only (each program is one file). */
#ifndef ITS_BENCH_UTIL_H
#define ITS_BENCH_UTIL_H

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double its_bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The "model name" line of /proc/cpuinfo ("unknown" without one); read once. */
static inline const char *its_bench_cpu_model(void)
{
    static char model[256] = "";
    if (model[0])
        return model;
    snprintf(model, sizeof model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return model;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    fclose(f);
    return model;
}

#endif
