// HDF5 spells its constants as macros, and most of them are not constants at all: H5T_NATIVE_FLOAT is
// `(H5OPEN H5T_NATIVE_FLOAT_g)`, a global that only holds a valid id after the library has initialised itself,
// and H5F_ACC_RDONLY also runs the header/library version check. Swift cannot import such macros, so each one we
// use gets a static inline getter here that expands the macro, which keeps the H5open()/H5check() side effects.
#pragma once
#include <hdf5.h>

// Property lists and selections.
static inline hid_t mm_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t mm_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t mm_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t mm_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t mm_h5s_all(void) { return H5S_ALL; }
static inline hid_t mm_h5e_default(void) { return H5E_DEFAULT; }

// File open/create flags.
static inline unsigned mm_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned mm_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline unsigned mm_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }

// Memory types (what Swift buffers hold).
static inline hid_t mm_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t mm_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t mm_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t mm_h5t_native_uint64(void) { return H5T_NATIVE_UINT64; }

// File types (what is stored on disk: little-endian IEEE and two's complement, as numpy/h5py write them).
static inline hid_t mm_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t mm_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t mm_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t mm_h5t_std_u64le(void) { return H5T_STD_U64LE; }

// Strings.
static inline hid_t mm_h5t_c_s1(void) { return H5T_C_S1; }
static inline size_t mm_h5t_variable(void) { return H5T_VARIABLE; }

// Counting open objects (HandleLeakTests): H5F_OBJ_ALL as a file id means "in every file".
static inline unsigned mm_h5f_obj_all(void) { return H5F_OBJ_ALL; }
