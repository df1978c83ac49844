/*
 * The baseline bench/discover compares against: plain discovery written
 * simply. For each server it lists the databases, then opens one connection
 * per database and runs the same catalog queries one after the other
 * (synchronous libpq). Prints how many databases it visited.
 *
 *   baseline CONNINFO...      (dbname is replaced for each database)
 *   baseline --print-queries  the instance-level queries, for psql -f (bench/fleet's floor)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "pg/discover.h"

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--print-queries") == 0) {
        for (int q = 0; q < discover_nqueries; q++)
            printf("%s;\n", discover_queries[q]);
        return 0;
    }
    int visited = 0;
    for (int i = 1; i < argc; i++) {
        char list_ci[1024];
        snprintf(list_ci, sizeof list_ci, "%s dbname=postgres", argv[i]);
        PGconn *c = PQconnectdb(list_ci);
        if (PQstatus(c) != CONNECTION_OK) {
            fprintf(stderr, "baseline: %s", PQerrorMessage(c));
            return 1;
        }
        PGresult *dbs = PQexec(c, "SELECT datname FROM pg_database WHERE datallowconn AND NOT "
                                  "datistemplate");
        PQfinish(c);
        for (int d = 0; d < PQntuples(dbs); d++) {
            char ci[1024];
            snprintf(ci, sizeof ci, "%s dbname=%s", argv[i], PQgetvalue(dbs, d, 0));
            PGconn *dc = PQconnectdb(ci);
            if (PQstatus(dc) != CONNECTION_OK) {
                fprintf(stderr, "baseline: %s", PQerrorMessage(dc));
                return 1;
            }
            for (int q = 0; q < discover_nqueries; q++)
                PQclear(PQexec(dc, discover_queries[q]));
            PQfinish(dc);
            visited++;
        }
        PQclear(dbs);
    }
    printf("%d databases\n", visited);
    return 0;
}
