import CHDF5
import Glibc

/// Attributes on a group or dataset ("/" is the file's root group). Setting one replaces it if present.
/// Strings are written variable-length UTF-8 (no size limit, what h5py writes for a Python str); reading accepts
/// variable-length and fixed-length strings alike, since h5py writes both.
extension HDF5File {
  // MARK: - Writing

  public func setAttribute(_ name: String, on objectPath: String, string: String) throws {
    try setAttribute(name, on: objectPath, strings: [string], shape: [])
  }

  public func setAttribute(_ name: String, on objectPath: String, strings: [String]) throws {
    try setAttribute(name, on: objectPath, strings: strings, shape: [strings.count])
  }

  public func setAttribute(_ name: String, on objectPath: String, int: Int64) throws {
    var value = int
    try writeAttribute(name, on: objectPath, fileType: mm_h5t_std_i64le(), shape: []) { attribute in
      H5Awrite(attribute, mm_h5t_native_int64(), &value)
    }
  }

  public func setAttribute(_ name: String, on objectPath: String, double: Double) throws {
    var value = double
    try writeAttribute(name, on: objectPath, fileType: mm_h5t_ieee_f64le(), shape: []) { attribute in
      H5Awrite(attribute, mm_h5t_native_double(), &value)
    }
  }

  public func setAttribute(_ name: String, on objectPath: String, uint64s: [UInt64]) throws {
    try writeAttribute(name, on: objectPath, fileType: mm_h5t_std_u64le(), shape: [uint64s.count]) { attribute in
      uint64s.withUnsafeBufferPointer { H5Awrite(attribute, mm_h5t_native_uint64(), $0.baseAddress) }
    }
  }

  public func hasAttribute(_ name: String, on objectPath: String) -> Bool {
    guard let file = try? fileID(), exists(objectPath) else { return false }
    return H5Aexists_by_name(file, absolute(objectPath), name, mm_h5p_default()) > 0
  }

  // MARK: - Reading

  /// A scalar string (or a one-element string array).
  public func stringAttribute(_ name: String, on objectPath: String) throws -> String {
    let strings = try stringsAttribute(name, on: objectPath)
    guard strings.count == 1 else {
      throw error(
        "attribute '\(name)' on '\(absolute(objectPath))' holds \(strings.count) strings, not one "
          + "(read it with stringsAttribute)")
    }
    return strings[0]
  }

  /// A 1-D string array; a scalar string reads as [s].
  public func stringsAttribute(_ name: String, on objectPath: String) throws -> [String] {
    try withAttribute(name, on: objectPath, expecting: "a string") { attribute, type, count in
      guard H5Tget_class(type) == H5T_STRING else { return nil }
      return try readStrings(attribute, type: type, count: count, name, objectPath)
    }
  }

  public func intAttribute(_ name: String, on objectPath: String) throws -> Int64 {
    try readScalar(name, on: objectPath, expecting: "an integer", memoryType: mm_h5t_native_int64(), Int64(0)) {
      $0 == H5T_INTEGER
    }
  }

  /// Integer attributes are converted too.
  public func doubleAttribute(_ name: String, on objectPath: String) throws -> Double {
    try readScalar(name, on: objectPath, expecting: "a number", memoryType: mm_h5t_native_double(), Double(0)) {
      $0 == H5T_FLOAT || $0 == H5T_INTEGER
    }
  }

  /// A 1-D integer array; a scalar reads as [x].
  public func uint64sAttribute(_ name: String, on objectPath: String) throws -> [UInt64] {
    try withAttribute(name, on: objectPath, expecting: "an integer array") { attribute, type, count in
      guard H5Tget_class(type) == H5T_INTEGER else { return nil }
      var values = [UInt64](repeating: 0, count: count)
      guard count == 0 || H5Aread(attribute, mm_h5t_native_uint64(), &values) >= 0 else {
        throw failure("cannot read attribute '\(name)' on '\(absolute(objectPath))'")
      }
      return values
    }
  }

  // MARK: - Private

  private func setAttribute(_ name: String, on objectPath: String, strings: [String], shape: [Int]) throws {
    let type = H5Tcopy(mm_h5t_c_s1())
    guard type >= 0 else { throw failure("cannot create a string type for attribute '\(name)'") }
    defer { _ = H5Tclose(type) }
    guard H5Tset_size(type, mm_h5t_variable()) >= 0, H5Tset_cset(type, H5T_CSET_UTF8) >= 0 else {
      throw failure("cannot create a string type for attribute '\(name)'")
    }
    // HDF5 reads variable-length strings through an array of C string pointers; strdup keeps them alive.
    let cStrings = strings.map { strdup($0) }
    defer { cStrings.forEach { free($0) } }
    try writeAttribute(name, on: objectPath, fileType: type, shape: shape) { attribute in
      cStrings.withUnsafeBufferPointer { H5Awrite(attribute, type, $0.baseAddress) }
    }
  }

  /// Creates (or replaces) the attribute and runs `write`, which returns the H5Awrite status.
  private func writeAttribute(
    _ name: String, on objectPath: String, fileType: hid_t, shape: [Int], _ write: (hid_t) -> herr_t
  ) throws {
    let what = "attribute '\(name)' on '\(absolute(objectPath))'"
    _ = try writableFileID(what)
    let object = try openObject(objectPath)
    defer { _ = H5Oclose(object) }
    let present = H5Aexists(object, name)
    guard present >= 0 else { throw failure("cannot check for \(what)") }
    if present > 0 {
      guard H5Adelete(object, name) >= 0 else { throw failure("cannot replace \(what)") }
    }
    let space = try makeSpace(shape, for: what)
    defer { _ = H5Sclose(space) }
    let attribute = H5Acreate2(object, name, fileType, space, mm_h5p_default(), mm_h5p_default())
    guard attribute >= 0 else { throw failure("cannot create \(what)") }
    defer { _ = H5Aclose(attribute) }
    guard shape.reduce(1, *) == 0 || write(attribute) >= 0 else { throw failure("cannot write \(what)") }
  }

  /// Opens the attribute and hands the body (attribute, its type, element count). The body returns nil when the
  /// attribute's type is not what the caller reads; that becomes an error naming both types.
  private func withAttribute<Result>(
    _ name: String, on objectPath: String, expecting expected: String, _ body: (hid_t, hid_t, Int) throws -> Result?
  ) throws -> Result {
    let what = "attribute '\(name)' on '\(absolute(objectPath))'"
    let object = try openObject(objectPath)
    defer { _ = H5Oclose(object) }
    let present = H5Aexists(object, name)
    guard present >= 0 else { throw failure("cannot check for \(what)") }
    guard present > 0 else { throw error("\(what) not found") }
    let attribute = H5Aopen(object, name, mm_h5p_default())
    guard attribute >= 0 else { throw failure("cannot open \(what)") }
    defer { _ = H5Aclose(attribute) }
    let type = H5Aget_type(attribute)
    guard type >= 0 else { throw failure("cannot read the type of \(what)") }
    defer { _ = H5Tclose(type) }
    let space = H5Aget_space(attribute)
    guard space >= 0 else { throw failure("cannot read the shape of \(what)") }
    defer { _ = H5Sclose(space) }
    let count = H5Sget_simple_extent_npoints(space)
    guard count >= 0 else { throw failure("cannot read the shape of \(what)") }
    guard let result = try body(attribute, type, Int(count)) else {
      throw error("\(what) is \(HDF5DType(typeID: type)), not \(expected)")
    }
    return result
  }

  private func readScalar<Value>(
    _ name: String, on objectPath: String, expecting expected: String, memoryType: hid_t, _ initial: Value,
    accepts: (H5T_class_t) -> Bool
  ) throws -> Value {
    try withAttribute(name, on: objectPath, expecting: expected) { attribute, type, count in
      guard accepts(H5Tget_class(type)) else { return nil }
      guard count == 1 else {
        throw error("attribute '\(name)' on '\(absolute(objectPath))' holds \(count) values, not one")
      }
      var value = initial
      guard withUnsafeMutableBytes(of: &value, { H5Aread(attribute, memoryType, $0.baseAddress) }) >= 0 else {
        throw failure("cannot read attribute '\(name)' on '\(absolute(objectPath))'")
      }
      return value
    }
  }

  /// Strings need no conversion, so they are read in the attribute's own type (H5Aget_type gives a memory copy).
  private func readStrings(
    _ attribute: hid_t, type: hid_t, count: Int, _ name: String, _ objectPath: String
  ) throws -> [String] {
    guard count > 0 else { return [] }
    let isVariableLength = H5Tis_variable_str(type)
    guard isVariableLength >= 0 else { throw failure("cannot read the type of attribute '\(name)'") }
    if isVariableLength > 0 {
      var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
      guard H5Aread(attribute, type, &pointers) >= 0 else {
        throw failure("cannot read attribute '\(name)' on '\(absolute(objectPath))'")
      }
      defer { pointers.forEach { _ = H5free_memory($0) } }  // HDF5 allocated each string
      return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }
    // Fixed length: `size` bytes each, padded with NULs (h5py's 'S' dtype) or spaces (Fortran-style).
    let size = H5Tget_size(type)
    guard size > 0 else { throw failure("cannot read the type of attribute '\(name)'") }
    var bytes = [UInt8](repeating: 0, count: size * count)
    guard H5Aread(attribute, type, &bytes) >= 0 else {
      throw failure("cannot read attribute '\(name)' on '\(absolute(objectPath))'")
    }
    let spacePadded = H5Tget_strpad(type) == H5T_STR_SPACEPAD
    return (0..<count).map { index in
      var field = bytes[(index * size)..<((index + 1) * size)]
      if let end = field.firstIndex(of: 0) { field = field[..<end] }
      while spacePadded, field.last == UInt8(ascii: " ") { field = field.dropLast() }
      return String(decoding: field, as: UTF8.self)
    }
  }
}
