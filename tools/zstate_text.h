/*  =========================================================================
    zstate_text - operations as text lines, for the zstate tool

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_TEXT_H_INCLUDED
#define ZSTATE_TEXT_H_INCLUDED

//  One operation a line: OP TABLE KEY [NAME=VALUE]...
//  OP is SET, HSET or DEL (any case). Tokens are separated by blanks; a
//  byte that is not printable, a blank, '=', '#' or '\' is written \xHH,
//  and "\\" stands for '\'. A line that is empty or starts with '#' holds
//  no operation. zstate watch prints this format and zstate send reads
//  it, so one's output can feed the other.

//  Parse line and append its operation to batch; store the table name
//  (NUL-terminated) in table, which holds table_max bytes. Returns 0, 1
//  when the line holds no operation, or -1 with errno EINVAL and a
//  zstate_reason () that names the problem.
int
    zstate_text_parse (const char *line, zstate_batch_t *batch,
                       char *table, size_t table_max);

//  Print operation index of batch, on table, as one line (with newline).
void
    zstate_text_print (FILE *file, const char *table, zstate_batch_t *batch,
                       size_t index);

//  Self test of this class.
void
    zstate_text_test (bool verbose);

#endif
