#include "aws/sns.h"

#include <stdlib.h>

#include "aws/awsxml.h"
#include "common/jsonutil.h"
#include "common/xalloc.h"

typedef struct Pub {
    AwsJsonCb cb;
    void *ud;
} Pub;

static void published(void *ud, const AwsResult *r)
{
    Pub *p = ud;
    if (!r->ok) {
        p->cb(p->ud, NULL, r);
        free(p);
        return;
    }
    xmlDoc *doc = awsxml_parse(r->body, r->body_len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    char *id = root ? awsxml_text(root, "PublishResult/MessageId") : NULL;
    json_t *o = json_pack("{s:o}", "message_id", jsonutil_string_or_null(id));
    p->cb(p->ud, o, r);
    json_decref(o);
    free(id);
    if (doc)
        xmlFreeDoc(doc);
    free(p);
}

void sns_publish(AwsClient *c, const char *topic_arn, const char *subject, const char *message,
                 AwsJsonCb cb, void *ud)
{
    StrBuf params = STRBUF_INIT;
    aws_query_add(&params, "TopicArn", topic_arn);
    aws_query_add(&params, "Message", message);
    if (subject)
        aws_query_add(&params, "Subject", subject);
    Pub *p = xmalloc(sizeof *p);
    p->cb = cb;
    p->ud = ud;
    aws_call(c, &aws_sns, "Publish", params.data, published, p);
    strbuf_free(&params);
}
