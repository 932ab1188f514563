/*
 * Copyright (C) nginx-faas developers
 *
 * Splitting a revision's exec= command line into an argv for execve, the
 * way a POSIX shell splits words, without a shell: pure, no I/O.
 */

#ifndef FAAS_ARGV_H
#define FAAS_ARGV_H


#include <stddef.h>


/*
 * Splits cmdline into words: blanks (space, tab, newline) separate them;
 * '...' keeps everything literally; "..." keeps everything literally but
 * \" \\ \$ \` (which lose their backslash) and backslash-newline (removed);
 * outside quotes a backslash keeps the next character literally and
 * backslash-newline is removed.  Quotes join with their neighbours into one
 * word ("a"'b'c is abc) and "" is an empty word.
 *
 * Nothing is ever expanded.  So that a command never means something else
 * than it would in a shell, what a shell would act on is an error when it
 * is not quoted: the operators | & ; < > ( ), a word starting with #, ` and
 * a $ that starts an expansion ($NAME, $1, ${, $(, $? ...), the last two
 * also inside double quotes.  Glob characters and ~ are kept literally (a
 * shell also keeps a pattern that matches nothing).
 *
 * On success returns 0 and sets *argv_out to a NULL-terminated array of at
 * least one word whose first word is not empty; the array and its strings
 * are one allocation, freed with faas_argv_free().  On error returns -1
 * and fills err with one line naming the problem and its column (1-based);
 * *argv_out is left NULL.
 */
int   faas_argv_split(const char *cmdline, char ***argv_out, char *err,
    size_t errlen);

/* Frees what faas_argv_split() returned; NULL is fine. */
void  faas_argv_free(char **argv);


#endif /* FAAS_ARGV_H */
