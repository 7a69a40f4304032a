import CHDF5

/// The element type of a dataset or attribute, as stored in the file.
public enum HDF5DType: Equatable, CustomStringConvertible {
  case float(bits: Int)
  case integer(bits: Int, signed: Bool)
  case string
  /// Anything else (compound, enum, opaque, ...), named by its HDF5 class.
  case other(String)

  public var description: String {
    switch self {
    case .float(let bits): return "float\(bits)"
    case .integer(let bits, let signed): return "\(signed ? "int" : "uint")\(bits)"
    case .string: return "string"
    case .other(let className): return className
    }
  }

  var isNumeric: Bool {
    switch self {
    case .float, .integer: return true
    case .string, .other: return false
    }
  }

  /// Bytes per value of a numeric type (0 otherwise).
  var byteCount: Int {
    switch self {
    case .float(let bits), .integer(let bits, _): return bits / 8
    case .string, .other: return 0
    }
  }

  /// Describes an open HDF5 datatype id.
  init(typeID: hid_t) {
    let bits = H5Tget_size(typeID) * 8
    switch H5Tget_class(typeID) {
    case H5T_FLOAT: self = .float(bits: bits)
    case H5T_INTEGER: self = .integer(bits: bits, signed: H5Tget_sign(typeID) != H5T_SGN_NONE)
    case H5T_STRING: self = .string
    case H5T_TIME: self = .other("time")
    case H5T_BITFIELD: self = .other("bitfield")
    case H5T_OPAQUE: self = .other("opaque")
    case H5T_COMPOUND: self = .other("compound")
    case H5T_REFERENCE: self = .other("reference")
    case H5T_ENUM: self = .other("enum")
    case H5T_VLEN: self = .other("vlen")
    case H5T_ARRAY: self = .other("array")
    default: self = .other("unknown type class")
    }
  }
}

/// Shape and element type of a dataset. A scalar dataset has shape [].
public struct HDF5DatasetInfo: Equatable {
  public let shape: [Int]
  public let dtype: HDF5DType

  public init(shape: [Int], dtype: HDF5DType) {
    self.shape = shape
    self.dtype = dtype
  }
}
