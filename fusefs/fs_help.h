/*
 * fs_help.h - faultline-fs's description for --help and faultline-fs(8)
 * (fs_help.c).
 */
#ifndef FL_FS_HELP_H
#define FL_FS_HELP_H

#include "help.h"

extern const struct help_page help_fs;

#endif
