/* Names of every public enum, one table each; a static_assert keeps each table complete. */
#include <assert.h>
#include <string.h>

#include "core/core.h"

static const char *its_table_name(const char *const *names, size_t count, int v)
{
    return (v >= 0 && (size_t)v < count) ? names[v] : NULL;
}

static its_status its_table_parse(const char *const *names, size_t count, const char *s, int *out)
{
    if (!s || !out)
        return ITS_ERR_INVALID;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = (int)i;
            return ITS_OK;
        }
    }
    return ITS_ERR_INVALID;
}

#define ITS_ENUM_TABLE(type, count, ...)                                                      \
    static const char *const type##_names_[] = {__VA_ARGS__};                                 \
    static_assert(ITS_ARRAY_LEN(type##_names_) == (size_t)(count), #type " names incomplete"); \
    const char *type##_name(type v)                                                           \
    {                                                                                         \
        return its_table_name(type##_names_, ITS_ARRAY_LEN(type##_names_), (int)v);           \
    }                                                                                         \
    its_status type##_parse(const char *s, type *out)                                         \
    {                                                                                         \
        int v = 0;                                                                            \
        if (!out)                                                                             \
            return ITS_ERR_INVALID;                                                           \
        its_status st = its_table_parse(type##_names_, ITS_ARRAY_LEN(type##_names_), s, &v);  \
        if (st == ITS_OK)                                                                     \
            *out = (type)v;                                                                   \
        return st;                                                                            \
    }

ITS_ENUM_TABLE(its_interp_kind, ITS_INTERP_COUNT_, "linear", "vp", "vp_cosine", "ve", "custom")
ITS_ENUM_TABLE(its_pred, ITS_PRED_COUNT_, "velocity", "eps", "x0", "score")
ITS_ENUM_TABLE(its_solver, ITS_SOLVER_COUNT_, "euler", "heun")
ITS_ENUM_TABLE(its_dynamics, ITS_DYN_COUNT_, "ode", "sde")
ITS_ENUM_TABLE(its_g_schedule, ITS_G_COUNT_, "constant", "sigma", "linear", "square", "sin")
ITS_ENUM_TABLE(its_grid, ITS_GRID_COUNT_, "uniform", "shifted", "exp", "custom")
ITS_ENUM_TABLE(its_method, ITS_METHOD_COUNT_, "none", "best_of_n", "zero_order",
               "search_over_paths", "beam", "svdd", "code", "fk_smc", "bfs", "dfs",
               "local_search", "rbf")
ITS_ENUM_TABLE(its_nonfinite, ITS_NONFINITE_COUNT_, "error", "drop")
ITS_ENUM_TABLE(its_stop, ITS_STOP_COUNT_, "completed", "nfe_cap", "deadline", "cancelled",
               "verifier_cap")
ITS_ENUM_TABLE(its_param_type, ITS_PARAM_TYPE_COUNT_, "int", "real", "bool", "enum", "array",
               "interp")
ITS_ENUM_TABLE(its_log_level, ITS_LOG_COUNT_, "error", "warn", "info", "debug")
ITS_ENUM_TABLE(its_stall, ITS_STALL_COUNT_, "keep", "restart")
ITS_ENUM_TABLE(its_potential, ITS_POT_COUNT_, "max", "add", "diff", "rt")
ITS_ENUM_TABLE(its_resampler, ITS_RESAMPLE_COUNT_, "multinomial", "systematic")
ITS_ENUM_TABLE(its_dfs_rule, ITS_DFS_RULE_COUNT_, "relative", "absolute")
ITS_ENUM_TABLE(its_bfs_mode, ITS_BFS_COUNT_, "resample", "prune")
ITS_ENUM_TABLE(its_ls_schedule, ITS_LS_COUNT_, "constant", "linear", "sigma")
ITS_ENUM_TABLE(its_finish, ITS_FINISH_COUNT_, "tweedie", "step")

const char *its_status_str(its_status s)
{
    switch (s) {
    case ITS_OK: return "ITS_OK";
    case ITS_ERR_INVALID: return "ITS_ERR_INVALID";
    case ITS_ERR_NOMEM: return "ITS_ERR_NOMEM";
    case ITS_ERR_CALLBACK: return "ITS_ERR_CALLBACK";
    case ITS_ERR_NUMERIC: return "ITS_ERR_NUMERIC";
    case ITS_ERR_BUDGET: return "ITS_ERR_BUDGET";
    case ITS_ERR_CONFIG: return "ITS_ERR_CONFIG";
    case ITS_ERR_UNSUPPORTED: return "ITS_ERR_UNSUPPORTED";
    case ITS_ERR_IO: return "ITS_ERR_IO";
    case ITS_CANCELLED: return "ITS_CANCELLED";
    }
    return "ITS_ERR_UNKNOWN";
}

const char *its_version(void)
{
    return ITS_VERSION_STRING;
}

int its_version_number(void)
{
    return ITS_VERSION_NUMBER;
}

/* int-typed views for the parameter tables. */
#define ITS_ENUM_INT(type)                    \
    const char *type##_name_i(int v);         \
    const char *type##_name_i(int v)          \
    {                                         \
        return type##_name((type)v);          \
    }
ITS_ENUM_INT(its_stall)
ITS_ENUM_INT(its_potential)
ITS_ENUM_INT(its_resampler)
ITS_ENUM_INT(its_bfs_mode)
ITS_ENUM_INT(its_dfs_rule)
ITS_ENUM_INT(its_ls_schedule)
ITS_ENUM_INT(its_finish)
