import MMData
import XCTest

/// `data.split`: the validation rows hold out whole groups (GroupShuffleSplit) or keep class shares
/// (StratifiedShuffleSplit); `random` stays the seeded row split it always was.
final class SplitKindTests: XCTestCase {
  let n = 120
  var groups: [Int] { (0..<n).map { $0 % 24 } }  // 24 subjects, 5 rows each
  var labels: [Int] { (0..<n).map { $0 % 10 < 3 ? 1 : 0 } }  // 30% class 1

  func testGroupSplitHoldsOutWholeGroups() {
    let mask = Split.validationMask(count: n, fraction: 0.2, seed: 4, kind: .group, groups: groups, labels: nil)
    let held = Set((0..<n).filter { mask[$0] }.map { groups[$0] })
    let kept = Set((0..<n).filter { !mask[$0] }.map { groups[$0] })
    XCTAssertTrue(held.isDisjoint(with: kept), "a subject in both validation and training: \(held.intersection(kept))")
    XCTAssertEqual(held.count, 5, "ceil(0.2 · 24 groups), as GroupShuffleSplit counts groups")
    XCTAssertEqual(
      mask, Split.validationMask(count: n, fraction: 0.2, seed: 4, kind: .group, groups: groups, labels: nil))
    XCTAssertNotEqual(
      mask, Split.validationMask(count: n, fraction: 0.2, seed: 5, kind: .group, groups: groups, labels: nil))
    // the random split of the same rows mixes subjects (what the grouped one prevents)
    let random = Split.validationMask(count: n, fraction: 0.2, seed: 4, kind: .random, groups: groups, labels: nil)
    let rHeld = Set((0..<n).filter { random[$0] }.map { groups[$0] })
    let rKept = Set((0..<n).filter { !random[$0] }.map { groups[$0] })
    XCTAssertFalse(rHeld.isDisjoint(with: rKept))
  }

  func testStratifiedSplitKeepsClassShares() {
    let mask = Split.validationMask(count: n, fraction: 0.25, seed: 1, kind: .stratified, groups: nil, labels: labels)
    let val = (0..<n).filter { mask[$0] }
    XCTAssertEqual(val.count, 30)
    XCTAssertEqual(val.filter { labels[$0] == 1 }.count, 9, "25% of the 36 rows of class 1")
  }

  func testRandomKindIsTheSeededRowSplit() {
    XCTAssertEqual(
      Split.validationMask(count: n, fraction: 0.2, seed: 3, kind: .random, groups: groups, labels: labels),
      Split.validationMask(count: n, fraction: 0.2, seed: 3))
  }

  func testGroupSplitNeverEmptiesTraining() {
    let two = (0..<10).map { $0 % 2 }
    let mask = Split.validationMask(count: 10, fraction: 0.9, seed: 0, kind: .group, groups: two, labels: nil)
    XCTAssertEqual(mask.filter { $0 }.count, 5, "one of the two groups held out, the other kept")
  }
}
