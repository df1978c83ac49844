/* table: columns as wide as their widest cell, in characters; no trailing spaces; notes
 * under their row; control characters never reach the terminal */
#include "common/table.h"
#include "test_util.h"

#include <stdlib.h>

static char *render(Table *t)
{
    StrBuf out = STRBUF_INIT;
    table_render(t, &out);
    table_free(t);
    return strbuf_detach(&out);
}

static void test_columns_fit_their_widest_cell(void **state)
{
    (void)state;
    Table *t = table_new(3, (const char *[]){"ID", "NAME", "STATE"});
    table_row(t, (const char *[]){"primary", "local primary", "ok"});
    table_row(t, (const char *[]){"archive", "local archive (stream target)", NULL});
    assert_int_equal(table_rows(t), 2);
    char *s = render(t);
    assert_string_equal(s, "ID       NAME                           STATE\n"
                           "primary  local primary                  ok\n"
                           "archive  local archive (stream target)\n");
    free(s);
}

static void test_width_counts_characters_not_bytes(void **state)
{
    (void)state;
    Table *t = table_new(2, (const char *[]){"NAME", "X"});
    table_row(t, (const char *[]){"Zürich", "1"});
    table_row(t, (const char *[]){"Paris", "2"});
    char *s = render(t);
    assert_string_equal(s, "NAME    X\n"
                           "Zürich  1\n"
                           "Paris   2\n");
    free(s);
}

static void test_right_aligned_column_and_notes(void **state)
{
    (void)state;
    Table *t = table_new(3, (const char *[]){"RULE", "N", "WHAT"});
    table_align_right(t, 1);
    table_row(t, (const char *[]){"demo-lag", "200", "from=a,to=b"});
    table_note(t, "lag 14 MB, 28.5 s");
    table_note(t, "(acknowledged)");
    table_row(t, (const char *[]){"x", "5", "y"});
    char *s = render(t);
    assert_string_equal(s, "RULE        N  WHAT\n"
                           "demo-lag  200  from=a,to=b\n"
                           "               lag 14 MB, 28.5 s\n"
                           "               (acknowledged)\n"
                           "x           5  y\n");
    free(s);
}

static void test_control_characters_are_shown_as_question_marks(void **state)
{
    (void)state;
    Table *t = table_new(2, (const char *[]){"ID", "NAME"});
    table_row(t, (const char *[]){"a", "two\nlines \x1b[31mred"});
    table_note(t, "bell\a");
    char *s = render(t);
    assert_string_equal(s, "ID  NAME\n"
                           "a   two?lines ?[31mred\n"
                           "    bell?\n");
    free(s);
}

static void test_an_empty_table_prints_its_line_or_its_headings(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    table_print(table_new(2, (const char *[]){"ID", "NAME"}), f, "nothing registered");
    table_print(table_new(2, (const char *[]){"ID", "NAME"}), f, NULL);
    Table *t = table_new(2, (const char *[]){"ID", "NAME"});
    table_row(t, (const char *[]){"a", "b"});
    table_print(t, f, "nothing registered");
    fclose(f);
    assert_string_equal(buf, "nothing registered\n"
                             "ID  NAME\n"
                             "ID  NAME\n"
                             "a   b\n");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns_fit_their_widest_cell),
        cmocka_unit_test(test_width_counts_characters_not_bytes),
        cmocka_unit_test(test_right_aligned_column_and_notes),
        cmocka_unit_test(test_control_characters_are_shown_as_question_marks),
        cmocka_unit_test(test_an_empty_table_prints_its_line_or_its_headings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
