import Foundation

/// Approximate comparisons for tests. Tolerance: |a - b| <= atol + rtol * max(|a|, |b|).
public func isClose(_ a: Double, _ b: Double, rtol: Double = 1e-5, atol: Double = 1e-6) -> Bool {
  if a.isNaN || b.isNaN { return false }
  return abs(a - b) <= atol + rtol * max(abs(a), abs(b))
}

/// Largest relative difference between two arrays, relative to the largest magnitude of `b` (the reference):
/// max|a - b| / max(max|b|, tiny). Used where a tolerance is stated for a whole tensor.
public func maxRelativeDifference<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(_ a: [A], _ b: [B]) -> Double {
  precondition(a.count == b.count, "length mismatch: \(a.count) vs \(b.count)")
  var maxDiff = 0.0, maxRef = 1e-30
  for i in a.indices {
    maxDiff = max(maxDiff, abs(Double(a[i]) - Double(b[i])))
    maxRef = max(maxRef, abs(Double(b[i])))
  }
  return maxDiff / maxRef
}

/// A fresh temporary directory for one test.
public func makeTemporaryDirectory(_ prefix: String = "mmtrain-test") -> URL {
  let url = URL(fileURLWithPath: NSTemporaryDirectory())
    .appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
  try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// Root of the package (folder holding Package.swift), found from this source file's path.
public func packageRoot(_ file: String = #filePath) -> URL {
  var url = URL(fileURLWithPath: file).deletingLastPathComponent()
  while url.path != "/" {
    if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
    url.deleteLastPathComponent()
  }
  fatalError("Package.swift not found above \(file)")
}

/// Folder of committed fixtures: Tests/Fixtures.
public func fixturesDirectory() -> URL {
  packageRoot().appendingPathComponent("Tests/Fixtures", isDirectory: true)
}
