/*
 * fl_error.c - text for faultline's error codes (see fl_error.h).
 *
 * Negative errno values are passed through to strerror(); faultline's own
 * codes get their own words.  Never returns NULL.
 */
#include <string.h>

#include "fl_error.h"

static const char *const fl_error_text[] = {
	[FL_EBADTRACE - FL_EBASE] = "malformed trace",
	[FL_EVERSION - FL_EBASE] = "unsupported trace format version",
	[FL_ETRUNCATED - FL_EBASE] = "trace ends inside a record",
	[FL_ECHECKSUM - FL_EBASE] = "record checksum mismatch",
	[FL_EUSAGE - FL_EBASE] = "usage error",
};

const char *faultline_strerror(int err)
{
	int code = -err;
	size_t n = sizeof(fl_error_text) / sizeof(fl_error_text[0]);

	if (code > FL_EBASE && (size_t)(code - FL_EBASE) < n &&
	    fl_error_text[code - FL_EBASE])
		return fl_error_text[code - FL_EBASE];
	if (code > 0 && code < FL_EBASE)
		return strerror(code);
	return "unknown error";
}
