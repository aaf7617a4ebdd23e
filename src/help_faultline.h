/*
 * help_faultline.h - faultline's description for --help and faultline(1)
 * (help_faultline.c).
 */
#ifndef FL_HELP_FAULTLINE_H
#define FL_HELP_FAULTLINE_H

#include "help.h"

extern const struct help_page help_faultline;

#endif
