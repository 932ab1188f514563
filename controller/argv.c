/*
 * Copyright (C) nginx-faas developers
 *
 * Command-line splitting for the process runtime (see argv.h).  One scanner
 * runs twice over the line: once to count the words and their bytes, once
 * to copy them into a single allocation.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "argv.h"


typedef struct {
    char    **argv;     /* NULL on the counting pass */
    char     *buf;
    size_t    nwords;
    size_t    nbytes;   /* of every word, each with its NUL */
} faas_argv_out_t;


static int
faas_argv_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}


static int
faas_argv_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
           || (!first && c >= '0' && c <= '9');
}


/* Would a shell expand a $ followed by c? */
static int
faas_argv_expands(char c)
{
    return faas_argv_name_char(c, 0) || (c != '\0' && strchr("{(@*#?-$!", c));
}


static void
faas_argv_emit(faas_argv_out_t *o, char c)
{
    if (o->buf != NULL) {
        o->buf[o->nbytes] = c;
    }
    o->nbytes++;
}


/*
 * Scans cmdline once, into o (whose argv and buf may be NULL to count only).
 * Returns 0, or -1 with err filled.
 */
static int
faas_argv_scan(const char *s, faas_argv_out_t *o, char *err, size_t errlen)
{
    size_t  i, open, n;
    char    c;

    i = 0;

    for ( ;; ) {

        /* blanks and line continuations between words */
        while (faas_argv_blank(s[i]) || (s[i] == '\\' && s[i + 1] == '\n')) {
            i += s[i] == '\\' ? 2 : 1;
        }

        if (s[i] == '\0') {
            break;
        }

        if (s[i] == '#') {
            return faas_fail(err, errlen,
                             "'#' starts a comment in a shell (column %zu): "
                             "quote it to pass it as an argument", i + 1);
        }

        if (o->nwords == 0 && faas_argv_name_char(s[i], 1)) {
            for (n = i + 1; faas_argv_name_char(s[n], 0); n++) {
                /* the name part of NAME=value */
            }
            if (s[n] == '=') {
                return faas_fail(err, errlen,
                           "the command starts with a variable assignment "
                                 "(column %zu): set it in the function's env",
                                 i + 1);
            }
        }

        if (o->argv != NULL) {
            o->argv[o->nwords] = o->buf + o->nbytes;
        }

        while (s[i] != '\0' && !faas_argv_blank(s[i])) {
            c = s[i];

            switch (c) {

            case '\\':
                if (s[i + 1] == '\0') {
                    return faas_fail(err, errlen,
                                     "trailing backslash at column %zu", i + 1);
                }
                if (s[i + 1] != '\n') {
                    faas_argv_emit(o, s[i + 1]);
                }
                i += 2;
                break;

            case '\'':
                open = i++;
                while (s[i] != '\'') {
                    if (s[i] == '\0') {
                        return faas_fail(err, errlen,
                                         "unterminated single quote opened at "
                                         "column %zu", open + 1);
                    }
                    faas_argv_emit(o, s[i++]);
                }
                i++;
                break;

            case '"':
                open = i++;
                while (s[i] != '"') {
                    c = s[i];

                    if (c == '\0') {
                        return faas_fail(err, errlen,
                                         "unterminated double quote opened at "
                                         "column %zu", open + 1);
                    }

                    if (c == '\\' && s[i + 1] != '\0'
                        && strchr("\"\\$`\n", s[i + 1]) != NULL)
                    {
                        if (s[i + 1] != '\n') {
                            faas_argv_emit(o, s[i + 1]);
                        }
                        i += 2;
                        continue;
                    }

                    if (c == '`') {
                        return faas_fail(err, errlen,
                                         "'`' (command substitution) at column "
                                   "%zu: nothing is run by a shell; write "
                                         "\\` to pass it", i + 1);
                    }

                    if (c == '$' && faas_argv_expands(s[i + 1])) {
                        return faas_fail(err, errlen,
                                   "'$' expansion at column %zu: nothing is "
                                         "expanded (use the function's env, or "
                                         "write \\$ to pass it)", i + 1);
                    }

                    faas_argv_emit(o, c);
                    i++;
                }
                i++;
                break;

            case '|': case '&': case ';': case '<': case '>': case '(':
            case ')':
                return faas_fail(err, errlen,
                           "unquoted '%c' at column %zu: the command is not "
                                 "run by a shell; quote it to pass it as an "
                                 "argument", c, i + 1);

            case '`':
                return faas_fail(err, errlen,
                                 "'`' (command substitution) at column %zu: "
                           "nothing is run by a shell; quote it to pass it",
                                 i + 1);

            case '$':
                if (faas_argv_expands(s[i + 1])) {
                    return faas_fail(err, errlen,
                                     "'$' expansion at column %zu: nothing is "
                               "expanded (use the function's env, or quote "
                                     "it with '...' to pass it)", i + 1);
                }
                faas_argv_emit(o, c);
                i++;
                break;

            default:
                faas_argv_emit(o, c);
                i++;
                break;
            }
        }

        faas_argv_emit(o, '\0');
        o->nwords++;
    }

    if (o->nwords == 0) {
        return faas_fail(err, errlen, "empty command");
    }

    if (o->argv != NULL && o->argv[0][0] == '\0') {
        return faas_fail(err, errlen, "empty program name");
    }

    return 0;
}


int
faas_argv_split(const char *cmdline, char ***argv_out, char *err,
    size_t errlen)
{
    faas_argv_out_t  o;
    void            *block;

    *argv_out = NULL;

    if (cmdline == NULL) {
        return faas_fail(err, errlen, "empty command");
    }

    memset(&o, 0, sizeof(o));

    if (faas_argv_scan(cmdline, &o, err, errlen) != 0) {
        return -1;
    }

    block = malloc((o.nwords + 1) * sizeof(char *) + o.nbytes);
    if (block == NULL) {
        return faas_fail(err, errlen, "out of memory");
    }

    o.argv = block;
    o.buf = (char *) (o.argv + o.nwords + 1);
    o.nwords = 0;
    o.nbytes = 0;

    if (faas_argv_scan(cmdline, &o, err, errlen) != 0) {
        free(block);
        return -1;
    }

    o.argv[o.nwords] = NULL;
    *argv_out = o.argv;

    return 0;
}


void
faas_argv_free(char **argv)
{
    free(argv);
}
