import MMTensor
import XCTest

/// Buffer's promise, on each of its paths (heap below 64 KiB, a lazily zeroed mapping above, a prefaulted
/// mapping): zero-filled, `count` floats writable end to end, independent of each other.
final class BufferTests: XCTestCase {
  func testEveryPathIsZeroFilledAndWritableEndToEnd() {
    for count in [0, 1, 1000, 16 * 1024 - 1, 16 * 1024, 3 * 1024 * 1024 + 5] {
      for prefault in [false, true] {
        let a = Buffer(count: count, prefault: prefault), b = Buffer(count: count)
        XCTAssertEqual(a.count, count)
        XCTAssertTrue(
          (0..<count).allSatisfy { a[$0] == 0 && b[$0] == 0 }, "count \(count) prefault \(prefault): not zero")
        for i in 0..<count { a[i] = Float(i % 977) + 0.5 }
        XCTAssertTrue((0..<count).allSatisfy { a[$0] == Float($0 % 977) + 0.5 }, "count \(count) prefault \(prefault)")
        XCTAssertTrue((0..<count).allSatisfy { b[$0] == 0 }, "count \(count): a write to one buffer reached another")
      }
    }
  }
}
