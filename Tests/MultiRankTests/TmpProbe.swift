import Foundation
import XCTest
final class TmpProbe: MultiRankTestCase {
  func testProbe() throws {
    print("ARG0", ProcessInfo.processInfo.arguments[0], "BIN", Harness.mmtrainBinary() ?? "nil")
    let t0 = Date()
    let r = try mmtrain(ranks: 3, ["--help"], timeout: 3)
    print("STATUS", r.status, Date().timeIntervalSince(t0))
    system("ps -ef | grep -c '[m]ut.sh\\|[s]leep 200'")
  }
}
