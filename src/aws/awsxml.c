#include "aws/awsxml.h"

#include <stdint.h>
#include <string.h>

#include <libxml/parser.h>

#include "common/xalloc.h"

xmlDoc *awsxml_parse(const char *data, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return NULL;
    return xmlReadMemory(data, (int)len, "aws.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

xmlNode *awsxml_child(const xmlNode *parent, const char *name)
{
    if (!parent)
        return NULL;
    for (xmlNode *n = parent->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
            return n;
    return NULL;
}

xmlNode *awsxml_path(const xmlNode *parent, const char *path)
{
    const xmlNode *cur = parent;
    char seg[128];
    const char *p = path;
    while (cur && *p) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (l >= sizeof seg)
            return NULL;
        memcpy(seg, p, l);
        seg[l] = '\0';
        cur = awsxml_child(cur, seg);
        p += l + (slash ? 1 : 0);
    }
    return (xmlNode *)(uintptr_t)cur;
}

char *awsxml_text(const xmlNode *parent, const char *path)
{
    xmlNode *n = awsxml_path(parent, path);
    if (!n)
        return NULL;
    xmlChar *t = xmlNodeGetContent(n);
    if (!t)
        return NULL;
    char *s = xstrdup((const char *)t);
    xmlFree(t);
    return s;
}

xmlNode *awsxml_next(const xmlNode *node)
{
    for (xmlNode *n = node->next; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE &&
            strcmp((const char *)n->name, (const char *)node->name) == 0)
            return n;
    return NULL;
}
