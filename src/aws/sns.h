/* sns: Publish (alerting uses it). Answers {"message_id": "..."}. */
#ifndef PGFLEET_SNS_H
#define PGFLEET_SNS_H

#include "aws/aws.h"

/* subject may be NULL */
void sns_publish(AwsClient *c, const char *topic_arn, const char *subject, const char *message,
                 AwsJsonCb cb, void *ud);

#endif
