/*
 * Copyright (C) nginx-faas developers
 *
 * Unit tests of the exec= command-line splitting (controller/argv.c): one
 * table of command lines with the argv a POSIX shell would give them, or
 * the error they must raise instead.  Prints TAP.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "tap.h"


/*
 * words: the expected argv, each word in [brackets] so that empty words
 * and blanks show; NULL when an error is expected, whose text must then
 * contain error.
 */
static const struct {
    const char  *cmdline;
    const char  *words;
    const char  *error;
} cases[] = {

    /* plain words and blanks */
    { "app", "[app]", NULL },
    { "/usr/bin/app --port 8080", "[/usr/bin/app][--port][8080]", NULL },
    { "  app\t-a \n -b  ", "[app][-a][-b]", NULL },
    { "a=b app", NULL, "variable assignment" },
    { "app a=b --x=y", "[app][a=b][--x=y]", NULL },
    { "./app", "[./app]", NULL },

    /* single quotes: everything literal */
    { "app 'hello world'", "[app][hello world]", NULL },
    { "app 'a\\b' '$HOME' '\"' '`x`' '|;&<>()#'",
      "[app][a\\b][$HOME][\"][`x`][|;&<>()#]", NULL },
    { "app ''", "[app][]", NULL },
    { "app '' ''", "[app][][]", NULL },
    { "app 'multi\nline'", "[app][multi\nline]", NULL },
    { "app 'unterminated", NULL, "unterminated single quote opened at "
                                 "column 5" },
    { "app 'it'\\''s'", "[app][it's]", NULL },

    /* double quotes: \" \\ \$ \` and backslash-newline are escapes */
    { "app \"hello world\"", "[app][hello world]", NULL },
    { "app \"a\\\"b\"", "[app][a\"b]", NULL },
    { "app \"a\\\\b\"", "[app][a\\b]", NULL },
    { "app \"\\$HOME\"", "[app][$HOME]", NULL },
    { "app \"\\`x\\`\"", "[app][`x`]", NULL },
    { "app \"a\\nb\"", "[app][a\\nb]", NULL },
    { "app \"a\\\nb\"", "[app][ab]", NULL },
    { "app \"it's\"", "[app][it's]", NULL },
    { "app \"\"", "[app][]", NULL },
    { "app \"|;&<>()#~*\"", "[app][|;&<>()#~*]", NULL },
    { "app \"costs $ 5$\"", "[app][costs $ 5$]", NULL },
    { "app \"$HOME\"", NULL, "'$' expansion at column 6" },
    { "app \"${x}\"", NULL, "'$' expansion" },
    { "app \"$(id)\"", NULL, "'$' expansion" },
    { "app \"`id`\"", NULL, "command substitution" },
    { "app \"unterminated", NULL, "unterminated double quote opened at "
                                  "column 5" },
    { "app \"a\\\"", NULL, "unterminated double quote" },

    /* backslash outside quotes */
    { "app a\\ b", "[app][a b]", NULL },
    { "app \\'x\\'", "[app]['x']", NULL },
    { "app \\\"", "[app][\"]", NULL },
    { "app \\$HOME \\| \\; \\#x", "[app][$HOME][|][;][#x]", NULL },
    { "app \\\\", "[app][\\]", NULL },
    { "app \\n", "[app][n]", NULL },
    { "app a\\\nb", "[app][ab]", NULL },
    { "app a \\\n b", "[app][a][b]", NULL },
    { "app \\\n", "[app]", NULL },
    { "app \\", NULL, "trailing backslash at column 5" },

    /* quotes join their neighbours into one word */
    { "app a\"b c\"'d e'f", "[app][ab cd ef]", NULL },
    { "app --name=\"x y\"", "[app][--name=x y]", NULL },
    { "\"/opt/my app/bin\" -v", "[/opt/my app/bin][-v]", NULL },

    /* nothing is expanded: what a shell would act on is an error */
    { "app $HOME", NULL, "'$' expansion at column 5" },
    { "app ${HOME}", NULL, "'$' expansion" },
    { "app $1", NULL, "'$' expansion" },
    { "app $?", NULL, "'$' expansion" },
    { "app $(id)", NULL, "'$' expansion" },
    { "app `id`", NULL, "command substitution" },
    { "app a|b", NULL, "unquoted '|' at column 6" },
    { "app > log", NULL, "unquoted '>'" },
    { "app < in", NULL, "unquoted '<'" },
    { "app; rm x", NULL, "unquoted ';'" },
    { "app &", NULL, "unquoted '&'" },
    { "app && x", NULL, "unquoted '&'" },
    { "(app)", NULL, "unquoted '('" },
    { "app #comment", NULL, "'#' starts a comment" },

    /* ... but a shell keeps these literally too */
    { "app a#b", "[app][a#b]", NULL },
    { "app $ 5$ a$/b", "[app][$][5$][a$/b]", NULL },
    { "app *.txt ~/x ~ [ab] {a,b} !", "[app][*.txt][~/x][~][[ab]][{a,b}][!]",
      NULL },
    { "app a=b", "[app][a=b]", NULL },
    { "'a=b' app", "[a=b][app]", NULL },

    /* empty commands */
    { "", NULL, "empty command" },
    { "   \t\n ", NULL, "empty command" },
    { "\\\n", NULL, "empty command" },
    { "'' app", NULL, "empty program name" },
    { "\"\"", NULL, "empty program name" },

    /* bytes are bytes */
    { "app h\xc3\xa9llo", "[app][h\xc3\xa9llo]", NULL },
};


/* the command line as a C literal would show it, for test names */
static const char *
show(const char *s)
{
    static char  bufs[2][128];
    static int   which;
    char        *buf;
    size_t       n;

    /* two buffers: a test name shows two of these */
    buf = bufs[which];
    which ^= 1;

    for (n = 0; *s != '\0' && n < sizeof(bufs[0]) - 3; s++) {
        if (*s == '\n' || *s == '\t') {
            buf[n++] = '\\';
            buf[n++] = *s == '\n' ? 'n' : 't';
        } else {
            buf[n++] = *s;
        }
    }
    buf[n] = '\0';

    return buf;
}


static void
test_table(void)
{
    char     name[256], err[256], got[1024];
    char   **argv;
    size_t   i, j, len;
    int      rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        argv = (char **) 1;    /* must be reset to NULL on error */
        rc = faas_argv_split(cases[i].cmdline, &argv, err, sizeof(err));

        if (cases[i].words != NULL) {
            snprintf(name, sizeof(name), "\"%s\" is accepted",
                     show(cases[i].cmdline));
            if (!is_int(rc, 0, name)) {
                printf("#   error: %s\n", err);
                continue;
            }

            got[0] = '\0';
            len = 0;
            for (j = 0; argv[j] != NULL; j++) {
                len += (size_t) snprintf(got + len, sizeof(got) - len, "[%s]",
                                         argv[j]);
            }
            snprintf(name, sizeof(name), "\"%s\" splits into %s",
                     show(cases[i].cmdline), show(cases[i].words));
            is_str(got, cases[i].words, name);
            faas_argv_free(argv);

        } else {
            snprintf(name, sizeof(name), "\"%s\" is an error: %s",
                     show(cases[i].cmdline), cases[i].error);
            if (!ok(rc == -1 && argv == NULL
                    && strstr(err, cases[i].error) != NULL, name))
            {
                printf("#   rc %d, error: %s\n", rc, err);
            }
            if (rc == 0) {
                faas_argv_free(argv);
            }
        }
    }
}


static void
test_api(void)
{
    char   **argv;
    char     err[8];
    size_t   j;

    argv = (char **) 1;
    ok(faas_argv_split(NULL, &argv, err, sizeof(err)) == -1 && argv == NULL,
       "a NULL command line is an error");

    ok(faas_argv_split("a 'b", &argv, err, sizeof(err)) == -1
       && strlen(err) == sizeof(err) - 1,
       "a short error buffer is filled and terminated");

    ok(faas_argv_split("a 'b", &argv, NULL, 0) == -1,
       "no error buffer at all is fine");

    ok(faas_argv_split("x y z", &argv, err, sizeof(err)) == 0, "split x y z");
    for (j = 0; argv[j] != NULL; j++) {
        /* count */
    }
    is_int(j, 3, "argv is NULL-terminated after its 3 words");
    faas_argv_free(argv);

    faas_argv_free(NULL);
    ok(1, "freeing NULL is fine");
}


int
main(void)
{
    test_table();
    test_api();

    return tap_done();
}
