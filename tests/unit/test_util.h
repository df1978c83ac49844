/* shared includes for the cmocka unit tests */
#ifndef PGFLEET_TEST_UTIL_H
#define PGFLEET_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#endif
