// SIGBUS from a file mapping, turned into mmtrain's one error line (MMData/MappedRows.swift).
//
// A shard read in place (data.mmap) is the data file's own pages, mapped read-only. Should the file shrink while
// a run reads it (another program truncates or rewrites it), the kernel answers a read past its new end with
// SIGBUS. The handler here checks whether the faulting address lies in a guarded mapping: if so it writes that
// mapping's message (built in advance: a signal handler may only call async-signal-safe functions) and exits
// with status 1, so mpirun takes the other ranks down; any other SIGBUS goes to the handler that was there
// before (Swift's crash reporter) or to the default action.
#ifndef MM_MAPPING_GUARD_H
#define MM_MAPPING_GUARD_H

#include <stddef.h>

/// Guards [base, base + length): a SIGBUS there prints `message` (copied, at most 1023 bytes) and exits 1,
/// after `delay_seconds` (other ranks than 0 wait, so that when several ranks read past the new end, rank 0's
/// line is the one printed and mpirun has stopped the others before they print theirs).
/// Returns the guard's slot (for mmk_unguard_mapping), or -1 when every slot is taken.
int mmk_guard_mapping(const void *base, size_t length, const char *message, unsigned delay_seconds);

/// Stops guarding slot `slot` (before the mapping is unmapped).
void mmk_unguard_mapping(int slot);

#endif
