// OpenMPI defines its handles and constants as macros over internal globals (MPI_COMM_WORLD is
// `((MPI_Comm)&ompi_mpi_comm_world)`), which Swift cannot import. Each gets a static inline getter here.
#pragma once
#include <mpi.h>

static inline MPI_Comm mm_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype mm_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype mm_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype mm_int32(void) { return MPI_INT; }
static inline MPI_Datatype mm_uint16(void) { return MPI_UINT16_T; }
static inline MPI_Datatype mm_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype mm_int64(void) { return MPI_LONG_LONG; }
static inline MPI_Op mm_op_sum(void) { return MPI_SUM; }
static inline MPI_Op mm_op_max(void) { return MPI_MAX; }
static inline MPI_Op mm_op_min(void) { return MPI_MIN; }
static inline void *mm_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler mm_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int mm_success(void) { return MPI_SUCCESS; }
static inline int mm_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline MPI_Status *mm_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Request mm_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *mm_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
