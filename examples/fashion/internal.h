/* Helpers shared by the its_fashion sources. */
#ifndef ITS_FASHION_INTERNAL_H
#define ITS_FASHION_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "its_fashion.h"

/* Writes the reason to err (when given) and returns s. */
static inline its_status its_fm_fail(char *err, size_t errcap, its_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline its_status its_fm_fail(char *err, size_t errcap, its_status s, const char *fmt, ...)
{
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return s;
}

#define ITS_TRY_FM(expr)               \
    do {                               \
        its_status fm_s_ = (expr);     \
        if (fm_s_ != ITS_OK)           \
            return fm_s_;              \
    } while (0)

/* OpenBLAS thread control (the pthread build exports them). */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

#endif
