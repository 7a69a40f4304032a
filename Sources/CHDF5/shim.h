// HDF5 spells its constants as macros, and most of them are not constants at all: H5T_NATIVE_FLOAT is
// `(H5OPEN H5T_NATIVE_FLOAT_g)`, a global that only holds a valid id after the library has initialised itself,
// and H5F_ACC_RDONLY also runs the header/library version check. Swift cannot import such macros, so each one we
// use gets a static inline getter here that expands the macro, which keeps the H5open()/H5check() side effects.
#pragma once
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

// Property lists and selections.
static inline hid_t mm_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t mm_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t mm_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t mm_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t mm_h5p_dataset_access(void) { return H5P_DATASET_ACCESS; }
static inline hid_t mm_h5s_all(void) { return H5S_ALL; }
static inline hid_t mm_h5e_default(void) { return H5E_DEFAULT; }

// The POSIX driver a file opened with default properties uses: its addresses are byte offsets in the file.
static inline hid_t mm_h5fd_sec2(void) { return H5FD_SEC2; }

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

// An in-memory file (the core driver, no backing store) whose buffer outlives H5Fclose: the file image
// callbacks allocate it with realloc, record where it is, and leave it alone at close, so the caller writes
// the closed file's bytes out from where HDF5 built them (checkpoints: no second copy of the image) and then
// frees `mem`. `closed`: the driver has let go of it (H5Fclose closes a file only once nothing in it is open).
// `udata` is the keeper itself, shared (not copied) by every property list and the file.
typedef struct { void *mem; size_t size; int closed; } mm_image_keeper;
static inline void *mm_image_malloc(size_t size, H5FD_file_image_op_t op, void *udata) {
  mm_image_keeper *k = (mm_image_keeper *)udata;
  void *p = malloc(size ? size : 1);
  if (p) { k->mem = p; k->size = size; }
  return p;
}
static inline void *mm_image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op, void *udata) {
  return memcpy(dest, src, size);
}
static inline void *mm_image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata) {
  mm_image_keeper *k = (mm_image_keeper *)udata;
  void *p = realloc(ptr, size ? size : 1);
  if (p) { k->mem = p; k->size = size; }
  return p;
}
static inline herr_t mm_image_free(void *ptr, H5FD_file_image_op_t op, void *udata) {
  mm_image_keeper *k = (mm_image_keeper *)udata;
  if (ptr == k->mem) k->closed = 1; else free(ptr);  // the file's own buffer stays with the keeper
  return 0;
}
static inline void *mm_image_udata_copy(void *udata) { return udata; }
static inline herr_t mm_image_udata_free(void *udata) { return 0; }
static inline herr_t mm_set_image_keeper(hid_t fapl, mm_image_keeper *k) {
  H5FD_file_image_callbacks_t c = {mm_image_malloc, mm_image_memcpy, mm_image_realloc, mm_image_free,
                                   mm_image_udata_copy, mm_image_udata_free, k};
  return H5Pset_file_image_callbacks(fapl, &c);
}

