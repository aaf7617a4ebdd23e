/*
 * fl_error.h - faultline's own error codes.
 *
 * Every function in libfaultline returns 0 (or a count) on success and a
 * negative number on failure: -errno for system errors, or one of the
 * FL_E* codes below, which live far above any errno value so the two
 * ranges never meet.  faultline_strerror() names both.
 */
#ifndef FL_ERROR_H
#define FL_ERROR_H

enum fl_error {
	FL_EBASE = 10000,
	FL_EBADTRACE,   /* trace is malformed (bad magic, bad record) */
	FL_EVERSION,    /* trace format version this build cannot read */
	FL_ETRUNCATED,  /* trace ends in the middle of a record */
	FL_ECHECKSUM,   /* a record's checksum does not match */
	FL_EUSAGE,      /* bad command line */
};

/* Returns a static string describing err (a negative errno or -FL_E*). */
const char *faultline_strerror(int err);

#endif
