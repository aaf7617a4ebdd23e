/* check_suites.h - one make_<module>_suite() per tests/check_<module>.c. */
#ifndef FL_CHECK_SUITES_H
#define FL_CHECK_SUITES_H

#include <check.h>

Suite *make_trace_suite(void);
Suite *make_trace_meta_suite(void);
Suite *make_verify_suite(void);
Suite *make_names_suite(void);
Suite *make_check_suite(void);
Suite *make_check_server_suite(void);
Suite *make_report_suite(void);
Suite *make_state_suite(void);
Suite *make_model_suite(void);
Suite *make_mat_suite(void);
Suite *make_explore_suite(void);
Suite *make_cmdword_suite(void);
Suite *make_calls_suite(void);

/* Makes a fresh temporary directory for one test; returns its path (static). */
const char *check_tmpdir(void);

#endif
