import Foundation
import XCTest

@testable import MMEval

/// Fold assignment against scikit-learn 1.9.1 (Tests/Fixtures/make_sklearn_fixtures.py): exact equality
/// where sklearn is deterministic (shuffle false, every strategy), the properties otherwise.
final class FoldTests: XCTestCase {
  private func plan(_ c: [String: Any], shuffle: Bool? = nil, seed: UInt64 = 3) throws -> FoldPlan {
    let spec = FoldSpec(
      k: c.int("k"), strategy: FoldStrategy(rawValue: c.string("strategy"))!, shuffle: shuffle ?? c.bool("shuffle"),
      seed: seed)
    return try FoldAssigner.assign(spec, n: c.int("n"), labels: c.ints("labels"), groups: c.ints("groups"))
  }

  func testEqualsSklearnWhereDeterministic() throws {
    let cases = SklearnFixture.cases("folds").filter { !$0.bool("shuffle") }
    XCTAssertEqual(cases.count, 7)
    for c in cases {
      let p = try plan(c)
      XCTAssertEqual(p.folds.map(\.test), c["test_folds"] as! [[Int]], c.string("name"))
      XCTAssertEqual(p.warnings.count, c.int("warnings"), c.string("name"))
    }
  }

  func testShuffledFoldsHaveSklearnsProperties() throws {
    for c in SklearnFixture.cases("folds") where c.bool("shuffle") {
      let name = c.string("name")
      let reference = c["test_folds"] as! [[Int]]
      let p = try plan(c)
      checkPartition(p, n: c.int("n"), name)
      XCTAssertEqual(p.warnings.count, c.int("warnings"), name)
      switch c.string("strategy") {
      case "kfold":
        XCTAssertEqual(p.folds.map(\.test.count), reference.map(\.count), name)
      case "stratified":
        // sklearn's allocation of each class to the folds does not depend on its RNG: equal counts.
        let y = c.ints("labels")!
        XCTAssertEqual(p.folds.map { classCounts($0.test, y) }, reference.map { classCounts($0, y) }, name)
      case "group":
        // shuffled GroupKFold: the groups are split into k runs of sizes differing by at most one
        let g = c.ints("groups")!
        XCTAssertEqual(
          p.folds.map { Set($0.test.map { g[$0] }).count }, reference.map { Set($0.map { g[$0] }).count }, name)
      default:
        break
      }
      if let g = c.ints("groups") { checkGroupsDisjoint(p, g, name) }
      // A different seed gives different folds, the same seed the same.
      XCTAssertEqual(try plan(c), p)
      if c.string("strategy") != "group" || c.int("k") < Set(c.ints("groups")!).count {
        XCTAssertNotEqual(try plan(c, seed: 99).folds, p.folds, name)
      }
    }
  }

  func testDeterministicFoldsHaveTheProperties() throws {
    for c in SklearnFixture.cases("folds") {
      let p = try plan(c)
      checkPartition(p, n: c.int("n"), c.string("name"))
      if c.string("strategy") == "kfold" || c.string("strategy") == "stratified" {
        let sizes = p.folds.map(\.test.count)
        XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, c.string("name"))
      }
      if let g = c.ints("groups") { checkGroupsDisjoint(p, g, c.string("name")) }
      if c.string("strategy") == "stratified", let y = c.ints("labels") {
        // each class's members per fold differ by at most one between folds
        for cls in Set(y) {
          let counts = p.folds.map { $0.test.filter { y[$0] == cls }.count }
          XCTAssertLessThanOrEqual(counts.max()! - counts.min()!, 1)
        }
      }
    }
  }

  func testErrors() throws {
    let spec = { (k: Int, s: FoldStrategy) in FoldSpec(k: k, strategy: s, shuffle: false, seed: 0) }
    XCTAssertThrowsError(try FoldAssigner.assign(spec(6, .kfold), n: 5)) {
      XCTAssertEqual("\($0)", "cv.folds = 6 is more than the 5 samples in the data; use cv.folds ≤ 5")
    }
    XCTAssertThrowsError(try FoldAssigner.assign(spec(3, .group), n: 6, groups: [1, 1, 2, 2, 1, 2])) {
      XCTAssertEqual("\($0)", "cv.folds = 3 is more than the 2 distinct groups in /groups; use cv.folds ≤ 2")
    }
    XCTAssertThrowsError(try FoldAssigner.assign(spec(3, .stratifiedGroup), n: 6, labels: [0, 1, 0, 1, 0, 1])) {
      XCTAssertTrue("\($0)".contains("needs the dataset /groups"), "\($0)")
    }
    XCTAssertThrowsError(try FoldAssigner.assign(spec(3, .stratified), n: 6)) {
      XCTAssertTrue("\($0)".contains("needs class labels"), "\($0)")
    }
    XCTAssertThrowsError(try FoldAssigner.assign(spec(4, .stratified), n: 6, labels: [0, 0, 0, 1, 1, 1])) {
      XCTAssertTrue("\($0)".contains("more than the members of every class"), "\($0)")
    }
    XCTAssertThrowsError(try FoldAssigner.assign(spec(1, .kfold), n: 6))
    // one class with fewer members than folds: a single warning
    let p = try FoldAssigner.assign(spec(3, .stratified), n: 7, labels: [0, 0, 0, 0, 0, 1, 1])
    XCTAssertEqual(p.warnings.count, 1)
    XCTAssertTrue(p.warnings[0].contains("only 2 member(s), fewer than cv.folds = 3"), p.warnings[0])
  }

  private func checkPartition(_ p: FoldPlan, n: Int, _ name: String) {
    XCTAssertEqual(p.folds.flatMap(\.test).sorted(), Array(0..<n), "\(name): every sample in exactly one test fold")
    for f in p.folds {
      XCTAssertEqual(f.test, f.test.sorted(), name)
      XCTAssertEqual(Set(f.train).union(f.test).count, n, name)
      XCTAssertTrue(Set(f.train).isDisjoint(with: f.test), name)
    }
  }

  private func checkGroupsDisjoint(_ p: FoldPlan, _ g: [Int], _ name: String) {
    let sets = p.folds.map { Set($0.test.map { g[$0] }) }
    for i in sets.indices {
      for j in sets.indices where i < j {
        XCTAssertTrue(sets[i].isDisjoint(with: sets[j]), "\(name): a group in two folds")
      }
    }
  }

  private func classCounts(_ idx: [Int], _ y: [Int]) -> [Int: Int] {
    var c: [Int: Int] = [:]
    for i in idx { c[y[i], default: 0] += 1 }
    return c
  }
}
