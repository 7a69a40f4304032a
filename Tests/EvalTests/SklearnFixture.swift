import Foundation
import TestSupport

/// Tests/Fixtures/sklearn_eval.json, written by Tests/Fixtures/make_sklearn_fixtures.py.
enum SklearnFixture {
  static let root: [String: Any] = {
    let url = fixturesDirectory().appendingPathComponent("sklearn_eval.json")
    let data = try! Data(contentsOf: url)
    return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
  }()

  static func cases(_ key: String) -> [[String: Any]] { root[key] as! [[String: Any]] }
}

extension Dictionary where Key == String, Value == Any {
  func double(_ k: String) -> Double { (self[k] as! NSNumber).doubleValue }
  func optionalDouble(_ k: String) -> Double? { (self[k] as? NSNumber)?.doubleValue }
  func int(_ k: String) -> Int { (self[k] as! NSNumber).intValue }
  func ints(_ k: String) -> [Int]? { (self[k] as? [NSNumber])?.map(\.intValue) }
  func doubles(_ k: String) -> [Double] { (self[k] as! [NSNumber]).map(\.doubleValue) }
  func optionalDoubles(_ k: String) -> [Double?] { (self[k] as! [Any]).map { ($0 as? NSNumber)?.doubleValue } }
  func matrix(_ k: String) -> [[Double]] { (self[k] as! [[NSNumber]]).map { $0.map(\.doubleValue) } }
  func intMatrix(_ k: String) -> [[Int]] { (self[k] as! [[NSNumber]]).map { $0.map(\.intValue) } }
  func string(_ k: String) -> String { self[k] as! String }
  func bool(_ k: String) -> Bool { (self[k] as! NSNumber).boolValue }
  func dict(_ k: String) -> [String: Any] { self[k] as! [String: Any] }
}
