import CZlib
import Foundation

/// Just enough PNG decoding to look at a Chromium screenshot: 8-bit RGB or RGBA, non-interlaced.
struct PNGImage {
  let width: Int
  let height: Int
  let channels: Int
  /// Unfiltered pixel bytes, row by row (height × width × channels).
  let pixels: [UInt8]

  enum Failure: Error { case notPNG, unsupported(String), inflate(Int32) }

  init(data: Data) throws {
    let bytes = [UInt8](data)
    guard bytes.count > 8, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
      throw Failure.notPNG
    }
    var pos = 8
    var idat: [UInt8] = []
    var w = 0, h = 0, colorType = 0
    func u32(_ p: Int) -> Int {
      Int(bytes[p]) << 24 | Int(bytes[p + 1]) << 16 | Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
    }
    while pos + 8 <= bytes.count {
      let length = u32(pos)
      let type = String(decoding: bytes[(pos + 4)..<(pos + 8)], as: UTF8.self)
      let body = Array(bytes[(pos + 8)..<(pos + 8 + length)])
      switch type {
      case "IHDR":
        w = (Int(body[0]) << 24) | (Int(body[1]) << 16) | (Int(body[2]) << 8) | Int(body[3])
        h = (Int(body[4]) << 24) | (Int(body[5]) << 16) | (Int(body[6]) << 8) | Int(body[7])
        colorType = Int(body[9])
        guard body[8] == 8, colorType == 2 || colorType == 6, body[12] == 0 else {
          throw Failure.unsupported("bit depth \(body[8]), colour type \(colorType), interlace \(body[12])")
        }
      case "IDAT": idat += body
      default: break
      }
      pos += 12 + length
    }
    let c = colorType == 6 ? 4 : 3
    let stride = w * c
    var raw = [UInt8](repeating: 0, count: h * (stride + 1))
    var rawLength = uLongf(raw.count)
    let status = uncompress(&raw, &rawLength, idat, uLong(idat.count))
    guard status == Z_OK else { throw Failure.inflate(status) }
    var out = [UInt8](repeating: 0, count: h * stride)
    for y in 0..<h {
      let filter = raw[y * (stride + 1)]
      for x in 0..<stride {
        let v = Int(raw[y * (stride + 1) + 1 + x])
        let a = x >= c ? Int(out[y * stride + x - c]) : 0
        let b = y > 0 ? Int(out[(y - 1) * stride + x]) : 0
        let d = x >= c && y > 0 ? Int(out[(y - 1) * stride + x - c]) : 0
        let predictor: Int
        switch filter {
        case 0: predictor = 0
        case 1: predictor = a
        case 2: predictor = b
        case 3: predictor = (a + b) / 2
        case 4:
          let p = a + b - d, pa = abs(p - a), pb = abs(p - b), pc = abs(p - d)
          predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : d)
        default: throw Failure.unsupported("filter \(filter)")
        }
        out[y * stride + x] = UInt8((v + predictor) & 0xFF)
      }
    }
    width = w
    height = h
    channels = c
    pixels = out
  }

  /// Share of pixels that are not (near) white, and the number of distinct colours (RGB).
  func inkAndColours() -> (ink: Double, colours: Int) {
    var ink = 0
    var colours = Set<UInt32>()
    for p in 0..<(width * height) {
      let r = pixels[p * channels], g = pixels[p * channels + 1], b = pixels[p * channels + 2]
      if Int(r) + Int(g) + Int(b) < 3 * 245 { ink += 1 }
      if colours.count < 100_000 { colours.insert(UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)) }
    }
    return (Double(ink) / Double(width * height), colours.count)
  }
}
