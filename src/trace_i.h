/*
 * trace_i.h - what the trace's format module (trace.c) shares with its
 * writer (trace_writer.c) and no one else.
 */
#ifndef FL_TRACE_I_H
#define FL_TRACE_I_H

#include <stdint.h>

#define TRACE_FILE_HDR 16 /* bytes of the records file's header */

/* Fills hdr with the records file's header for the current format version. */
void trace_file_header(uint8_t hdr[TRACE_FILE_HDR]);

#endif
