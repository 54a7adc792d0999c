/* Helpers shared by the its_digits sources. */
#ifndef ITS_DIGITS_INTERNAL_H
#define ITS_DIGITS_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "its_digits.h"

/* Writes the reason to err (when given) and returns s. */
static inline its_status its_dg_fail(char *err, size_t errcap, its_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline its_status its_dg_fail(char *err, size_t errcap, its_status s, const char *fmt, ...)
{
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return s;
}

#define ITS_TRY_DG(expr)               \
    do {                               \
        its_status dg_s_ = (expr);     \
        if (dg_s_ != ITS_OK)           \
            return dg_s_;              \
    } while (0)

/* OpenBLAS thread control (declared here: the pthread build exports them). */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

#endif
