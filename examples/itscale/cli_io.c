/* Messages, files and progress for the itscale command-line tool. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("itscale: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}


/* a progress bar is drawn on the terminal and its line not ended yet */
static int cli_bar_open;

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cli_bar_open)
        fputc('\n', stderr);
    cli_bar_open = 0;
    fputs("itscale: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_check_writable(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/.itscale-XXXXXX", dir) >= (int)sizeof(path)) {
        cli_err("%s: path too long", dir);
        return -1;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        cli_err("%s: cannot write there: %s", dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(path);
    return 0;
}

const char *cli_unprefix(const char *msg, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(msg, word, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

char *cli_read_file(const char *path, size_t *len)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_err("%s: is a directory, not a file", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_err("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= CLI_MAX_FILE) {
                cli_err("%s: larger than %zu bytes", path, (size_t)CLI_MAX_FILE);
                free(buf);
                fclose(f);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        cli_err("%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

FILE *cli_open_out(const char *path)
{
    if (!path)
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        cli_err("%s: %s", path, strerror(errno));
    return f;
}

int cli_close_out(FILE *f, const char *path)
{
    if (f == stdout)
        return fflush(f) == 0 ? 0 : -1;
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        cli_err("%s: write error", path);
        return -1;
    }
    return 0;
}

void cli_progress(size_t done, size_t total, const char *what)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(fileno(stderr));
    int w = 30, fill = total ? (int)((double)done / (double)total * w) : w;
    if (tty) {
        fprintf(stderr, "\r[%.*s%*s] %3zu%% %-40.40s", fill,
                "##############################", w - fill, "", total ? done * 100 / total : 100,
                what);
        cli_bar_open = done != total;
        if (done == total)
            fputc('\n', stderr);
    } else if (done == total || done == 0 || strstr(what, "seed 0")) {
        fprintf(stderr, "[%zu/%zu] %s\n", done, total, what);
    }
    fflush(stderr);
}

int cli_mkdir(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        cli_err("%s: exists and is not a directory", dir);
        return -1;
    }
    cli_err("%s: %s", dir, strerror(errno));
    return -1;
}

