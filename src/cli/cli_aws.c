/* cli_aws: `pgfleet aws check` and `pgfleet aws rds-token` */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "aws/awscheck.h"
#include "aws/rds.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/jsonutil.h"
#include "common/log.h"

typedef struct CheckRun {
    bool json;
    int exit_status;
} CheckRun;

static void print_report(const json_t *r, bool as_json)
{
    if (as_json) {
        char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
        return;
    }
    const json_t *cred = json_object_get(r, "credentials");
    const char *src = jsonutil_str(cred, "source");
    const char *key = jsonutil_str(cred, "access_key_id");
    printf("%-15s %s%s%s%s\n", "credentials", src ? src : "(none found)", key ? " (" : "",
           key ? key : "", key ? ")" : "");
    const char *region = jsonutil_str(r, "region");
    printf("%-15s %s\n", "region", region ? region : "(unset: set AWS_REGION)");
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(r, "checks"), i, c)
    {
        const char *svc = jsonutil_str(c, "service");
        const char *ep = jsonutil_str(json_object_get(r, "endpoints"), svc);
        bool ok = json_is_true(json_object_get(c, "ok"));
        double ms = json_real_value(json_object_get(c, "latency_ms"));
        if (ok) {
            printf("%-15s ok    %8.1f ms  %-24s %s\n", svc, ms, jsonutil_str(c, "summary"),
                   ep ? ep : "");
        } else {
            const json_t *e = json_object_get(c, "error");
            printf("%-15s FAIL  %8.1f ms  %s: %s\n", svc, ms, jsonutil_str(e, "code"),
                   jsonutil_str(e, "message"));
            const char *hint = jsonutil_str(e, "hint");
            if (hint)
                printf("%-15s HINT: %s\n", "", hint);
        }
    }
}

static void checked(void *ud, const json_t *report)
{
    CheckRun *run = ud;
    print_report(report, run->json);
    run->exit_status =
        json_is_true(json_object_get(report, "ok")) ? 0 : pgf_error_exit(PGF_ERR_AWS);
}

static int run_check(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    CheckRun run = {.exit_status = 1};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            run.json = true;
        else
            return cli_usage_error("pgfleet aws check", "unknown option '%s'", argv[i]);
    }
    log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
    uv_loop_t loop;
    uv_loop_init(&loop);
    AwsClient *c = aws_client_new(&loop, NULL, NULL);
    awscheck_run(c, checked, &run);
    uv_run(&loop, UV_RUN_DEFAULT);
    aws_client_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return run.exit_status;
}

typedef struct TokenRun {
    const char *host, *user;
    int port;
    char *region;
    int exit_status;
} TokenRun;

static void token_creds(void *ud, const AwsCredentials *creds, const char *error)
{
    TokenRun *t = ud;
    if (!creds) {
        fprintf(stderr, "pgfleet aws rds-token: %s\n", error);
        t->exit_status = pgf_error_exit(PGF_ERR_AWS);
        return;
    }
    char *tok = rds_iam_token(creds, t->region, t->host, t->port, t->user, time(NULL));
    if (!tok) {
        fprintf(stderr, "pgfleet aws rds-token: could not sign the token\n");
        t->exit_status = pgf_error_exit(PGF_ERR_AWS);
        return;
    }
    printf("%s\n", tok);
    free(tok);
    t->exit_status = 0;
}

static int run_token(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    if (argc != 4)
        return cli_usage_error("pgfleet aws rds-token", "needs HOST PORT USER");
    char *end;
    long port = strtol(argv[2], &end, 10);
    if (*end || port < 1 || port > 65535)
        return cli_usage_error("pgfleet aws rds-token", "PORT must be 1-65535, not '%s'", argv[2]);
    log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
    uv_loop_t loop;
    uv_loop_init(&loop);
    AwsClient *c = aws_client_new(&loop, NULL, NULL);
    TokenRun t = {.host = argv[1], .port = (int)port, .user = argv[3], .exit_status = 1};
    if (!aws_client_region(c)) {
        fprintf(stderr, "pgfleet aws rds-token: no AWS region (set AWS_REGION)\n");
        t.exit_status = pgf_error_exit(PGF_ERR_CONFIG);
    } else {
        t.region = strdup(aws_client_region(c));
        awscreds_get(aws_client_creds(c), token_creds, &t);
        uv_run(&loop, UV_RUN_DEFAULT);
        free(t.region);
    }
    aws_client_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return t.exit_status;
}

static const Command check_command = {
    .name = "check",
    .summary = "show the AWS credential source, region and endpoints, and call each service",
    .usage = "[--json]",
    .help = "Calls Secrets Manager (ListSecrets), RDS (DescribeDBInstances) and ElastiCache\n"
            "(DescribeReplicationGroups) and reports latency, or the error and a hint.\n"
            "Exit status 0 when all three answer, 18 otherwise. Settings: the usual AWS\n"
            "variables (AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID ..., AWS_ENDPOINT_URL,\n"
            "AWS_ENDPOINT_URL_<SERVICE>).",
    .run = run_check,
};

static const Command token_command = {
    .name = "rds-token",
    .summary = "print an RDS IAM authentication token (a password valid 15 minutes)",
    .usage = "HOST PORT USER",
    .help = "Example: PGPASSWORD=$(pgfleet aws rds-token db.example.com 5432 app) psql ...\n"
            "RDS accepts the token only over TLS (sslmode=require or stronger).",
    .run = run_token,
};

static const Command *const aws_subcommands[] = {&check_command, &token_command, NULL};

const Command cli_aws_command = {
    .name = "aws",
    .summary = "AWS: check connectivity, make RDS IAM tokens",
    .usage = "COMMAND",
    .subcommands = aws_subcommands,
};
