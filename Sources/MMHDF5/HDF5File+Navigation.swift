import CHDF5

/// Asking what the file holds: existence, kind, and group members.
extension HDF5File {
  /// Whether an object exists at `objectPath`. Checks link by link, so "/a/b/c" is false (not an error)
  /// when "/a" is missing or is a dataset. The root "/" always exists.
  public func exists(_ objectPath: String) -> Bool {
    guard let file = try? fileID() else { return false }
    var prefix = ""
    for component in objectPath.split(separator: "/") {
      prefix += "/" + component
      guard H5Lexists(file, prefix, mm_h5p_default()) > 0 else { return false }
    }
    // A soft link can exist while pointing nowhere.
    return prefix.isEmpty || H5Oexists_by_name(file, prefix, mm_h5p_default()) > 0
  }

  public func isGroup(_ objectPath: String) -> Bool {
    objectType(objectPath) == H5I_GROUP
  }

  public func isDataset(_ objectPath: String) -> Bool {
    objectType(objectPath) == H5I_DATASET
  }

  /// Names of the direct children of a group, sorted.
  public func members(ofGroup groupPath: String) throws -> [String] {
    let group = try openGroup(groupPath)
    defer { _ = H5Gclose(group) }
    var info = H5G_info_t()
    guard H5Gget_info(group, &info) >= 0 else { throw failure("cannot list group '\(absolute(groupPath))'") }
    var names: [String] = []
    for index in 0..<info.nlinks {
      names.append(try linkName(in: group, at: index, groupPath: groupPath))
    }
    return names.sorted()
  }

  // MARK: - Opening objects (each caller closes what it opens)
  // Each tries the open first and only looks for the reason when it fails: reads open a dataset per batch.

  /// Opens a group or dataset, for attributes. Close with H5Oclose.
  func openObject(_ objectPath: String) throws -> hid_t {
    let object = H5Oopen(try fileID(), objectPath, mm_h5p_default())
    if object >= 0 { return object }
    let cause = HDF5.innermostErrorMessage(), name = absolute(objectPath)
    guard exists(name) else {
      throw error("object '\(name)' not found (create the group or dataset first; `h5ls -r \(path)` lists the file)")
    }
    throw error("cannot open object '\(name)'", cause: cause)
  }

  /// Close with H5Gclose.
  func openGroup(_ groupPath: String) throws -> hid_t {
    let group = H5Gopen2(try fileID(), groupPath, mm_h5p_default())
    if group >= 0 { return group }
    let cause = HDF5.innermostErrorMessage(), name = absolute(groupPath)
    guard exists(name) else { throw error("group '\(name)' not found (`h5ls -r \(path)` lists the file)") }
    guard isGroup(name) else { throw error("'\(name)' is a dataset, not a group") }
    throw error("cannot open group '\(name)'", cause: cause)
  }

  /// Close with H5Dclose.
  func openDataset(_ datasetPath: String) throws -> hid_t {
    let dataset = H5Dopen2(try fileID(), datasetPath, mm_h5p_default())
    if dataset >= 0 { return dataset }
    let cause = HDF5.innermostErrorMessage(), name = absolute(datasetPath)
    guard exists(name) else { throw error("dataset '\(name)' not found (`h5ls -r \(path)` lists the file)") }
    guard isDataset(name) else { throw error("'\(name)' is a group, not a dataset") }
    throw error("cannot open dataset '\(name)'", cause: cause)
  }

  // MARK: - Private

  /// H5I_GROUP, H5I_DATASET, ... for an existing object; nil when there is none.
  private func objectType(_ objectPath: String) -> H5I_type_t? {
    guard let file = try? fileID(), exists(objectPath) else { return nil }
    let object = H5Oopen(file, absolute(objectPath), mm_h5p_default())
    guard object >= 0 else { return nil }
    defer { _ = H5Oclose(object) }
    return H5Iget_type(object)
  }

  private func linkName(in group: hid_t, at index: hsize_t, groupPath: String) throws -> String {
    let byName = H5_INDEX_NAME, ascending = H5_ITER_INC
    let length = H5Lget_name_by_idx(group, ".", byName, ascending, index, nil, 0, mm_h5p_default())
    guard length >= 0 else { throw failure("cannot list group '\(absolute(groupPath))'") }
    var bytes = [CChar](repeating: 0, count: Int(length) + 1)
    guard H5Lget_name_by_idx(group, ".", byName, ascending, index, &bytes, bytes.count, mm_h5p_default()) >= 0 else {
      throw failure("cannot list group '\(absolute(groupPath))'")
    }
    return bytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  }
}
